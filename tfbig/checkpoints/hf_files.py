"""The files of a Hugging Face BERT folder, and reading its JSON ones with clear errors.

A folder as ``save_pretrained`` (or a Hub snapshot) writes it::

    config.json              sizes and architecture              (required)
    model.safetensors        the weights                         (required; never a pickle)
    vocab.txt                WordPiece vocabulary, line i = id i (required)
    tokenizer_config.json    do_lower_case, strip_accents, ...   (optional)
    special_tokens_map.json  [CLS], [SEP], ... names             (optional)
    1_Pooling/config.json    sentence-transformers pooling       (optional)
"""

import json
import pathlib

from tfbig.errors import TfbigError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
POOLING_CONFIG_FILE = "1_Pooling/config.json"

# Weight files tfbig does not read, named in the "no model.safetensors" message.
_OTHER_WEIGHT_FILES = ("pytorch_model.bin", "tf_model.h5", "model.safetensors.index.json")


def checkpoint_folder(path):
    """``path`` as a ``pathlib.Path``; ``TfbigError`` unless it is a folder."""
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise TfbigError(
            f"{folder} is not a folder; expected a Hugging Face BERT folder holding "
            f"{CONFIG_FILE}, {WEIGHTS_FILE} and {VOCAB_FILE}")
    return folder


def required_file(folder, name):
    """``folder / name``; ``TfbigError`` naming the file if it does not exist."""
    path = pathlib.Path(folder) / name
    if path.is_file():
        return path
    hint = ""
    if name == WEIGHTS_FILE:
        others = [other for other in _OTHER_WEIGHT_FILES if (path.parent / other).exists()]
        if others:
            hint = (f" (found {', '.join(others)}: tfbig reads single-file safetensors only, "
                    "never pickled PyTorch weights; convert with transformers' "
                    "save_pretrained(..., safe_serialization=True))")
    raise TfbigError(f"{path} does not exist; a Hugging Face BERT folder needs {CONFIG_FILE}, "
                     f"{WEIGHTS_FILE} and {VOCAB_FILE}{hint}")


def read_json(path, required=True):
    """The JSON object in ``path``; ``{}`` if ``required`` is false and the file is absent."""
    path = pathlib.Path(path)
    if not path.is_file():
        if required:
            required_file(path.parent, path.name)  # raises
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TfbigError(f"{path} is not valid UTF-8 JSON: {error}") from None
    if not isinstance(value, dict):
        raise TfbigError(f"{path} holds a JSON {type(value).__name__}; expected an object")
    return value


def read_vocabulary(folder):
    """The tokens of ``folder/vocab.txt``, one per line, the index of a token is its id."""
    path = required_file(folder, VOCAB_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise TfbigError(f"{path} is not UTF-8: {error}") from None
    # Split on "\n" only: a vocabulary may hold tokens such as "\x85" that str.splitlines()
    # would treat as line breaks. A trailing "\r" comes from a file saved on Windows.
    tokens = [line.removesuffix("\r") for line in text.split("\n")]
    if tokens and tokens[-1] == "":
        tokens.pop()
    if not tokens:
        raise TfbigError(f"{path} is empty; expected one WordPiece token per line")
    return tokens
