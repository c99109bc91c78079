"""Tokenizers: learn one from a corpus, save it in a run folder, load it back.

This is the front door; the pieces live beside it:

- ``special_tokens``       ``[PAD]``=0 ``[UNK]``=1 ``[START]``=2 ``[END]``=3 ``[CLS]``=4
                           ``[SEP]``=5 ``[MASK]``=6, first in every vocabulary
- ``text_normalization``   ``normalize_text``, applied by every tokenizer before splitting
- ``base_tokenizer``       ``Tokenizer``: the shared interface (``tokenize``, ``detokenize``,
                           ``vocabulary``, ``vocab_size``, ``save``, ``pad_id`` …)
- ``char_tokenizer``       ``CharTokenizer``: one token per character
- ``word_tokenizer``       ``WordTokenizer``: one token per whitespace-separated word
- ``wordpiece_tokenizer``  ``WordPieceTokenizer``: BERT-style subwords
- ``subword_tokenizer``    ``SubwordTokenizer``: WordPiece on ``▁``-marked words, exact round
                           trip (spaces and punctuation come back as they were)
- ``sentencepiece_tokenizer``  ``SentencePieceTokenizer``: SentencePiece subwords (unigram or
                           BPE), exact round trip; learning needs ``pip install sentencepiece``

Example:
    >>> tokenizer = learn_tokenizer("char", ["hello world"], vocab_size=100)
    >>> ids = tokenizer.tokenize(["hello"])  # int32 RaggedTensor [batch, (tokens)]
    >>> tokenizer.detokenize(ids).numpy()[0].decode()
    'hello'
    >>> import tempfile
    >>> folder = tokenizer.save(tempfile.mkdtemp())  # writes vocab.txt + tokenizer.json
    >>> load_tokenizer(folder).tokenize(["hello"]).to_list() == ids.to_list()
    True
"""

import json
import pathlib

from tfbig.data.base_tokenizer import CONFIG_FILE, VOCAB_FILE, Tokenizer
from tfbig.data.char_tokenizer import CharTokenizer, learn_char_vocabulary
from tfbig.data.sentencepiece_tokenizer import (SentencePieceTokenizer,
                                                learn_sentencepiece_model,
                                                load_sentencepiece_tokenizer)
from tfbig.special_tokens import (CLS_ID, END_ID, MASK_ID, NUM_SPECIAL_TOKENS, PAD_ID,
                                       SEP_ID, SPECIAL_TOKENS, START_ID, UNK_ID)
from tfbig.data.subword_tokenizer import SubwordTokenizer, learn_subword_vocabulary
from tfbig.data.text_normalization import check_normalization_form, normalize_text
from tfbig.data.word_tokenizer import WordTokenizer, learn_word_vocabulary
from tfbig.data.wordpiece_tokenizer import WordPieceTokenizer, learn_wordpiece_vocabulary
from tfbig.errors import TfbigError

__all__ = [
    "CLS_ID", "END_ID", "MASK_ID", "NUM_SPECIAL_TOKENS", "PAD_ID", "SEP_ID", "SPECIAL_TOKENS",
    "START_ID", "UNK_ID", "TOKENIZER_KINDS", "CharTokenizer", "SentencePieceTokenizer",
    "SubwordTokenizer", "Tokenizer", "WordPieceTokenizer", "WordTokenizer", "learn_tokenizer",
    "load_tokenizer",
]

# kind -> (class, learner of what the class is built from: a vocabulary; SentencePiece: a model)
TOKENIZER_KINDS = {
    CharTokenizer.kind: (CharTokenizer, learn_char_vocabulary),
    WordTokenizer.kind: (WordTokenizer, learn_word_vocabulary),
    WordPieceTokenizer.kind: (WordPieceTokenizer, learn_wordpiece_vocabulary),
    SentencePieceTokenizer.kind: (SentencePieceTokenizer, learn_sentencepiece_model),
    SubwordTokenizer.kind: (SubwordTokenizer, learn_subword_vocabulary),
}

_BATCH_SIZE = 1024  # texts normalised per TensorFlow call while learning


def learn_tokenizer(kind, texts, *, vocab_size=8000, lower_case=False, strip_accents=False,
                    normalization="NFKC", min_count=None, model_type=None):
    """Learn a tokenizer's vocabulary from a corpus.

    The corpus is streamed once, in batches, so it may be larger than memory (except for
    ``"sentencepiece"``, whose trainer holds the texts). Each text is normalised with the
    given options (the same the tokenizer then applies), and counted.

    Args:
        kind: ``"char"``, ``"word"`` (whitespace), ``"wordpiece"``, ``"sentencepiece"`` or
            ``"subword"``.
        texts: an iterable of ``str`` (a list, a generator over a file's lines, ...).
        vocab_size: the largest vocabulary wanted, the 7 special tokens included. The
            result can be smaller when the corpus has fewer distinct tokens.
        lower_case, strip_accents, normalization: see ``normalize_text``.
        min_count: drop tokens seen fewer times than this (``None``: keep every token that
            fits in ``vocab_size``). Not supported by ``"sentencepiece"``.
        model_type: ``"sentencepiece"`` only: ``"unigram"`` (``None``: the default) or
            ``"bpe"``.

    Returns:
        A ``CharTokenizer``, ``WordTokenizer``, ``WordPieceTokenizer``,
        ``SentencePieceTokenizer`` or ``SubwordTokenizer``.

    Raises:
        TfbigError: unknown ``kind``, ``vocab_size`` too small, ``texts`` not strings or
            empty, invalid ``normalization``, ``model_type`` for another kind;
            ``"sentencepiece"`` without the ``sentencepiece`` package installed.
    """
    if kind not in TOKENIZER_KINDS:
        raise TfbigError(f"unknown tokenizer kind {kind!r}; valid kinds: "
                         f"{', '.join(TOKENIZER_KINDS)}")
    if not isinstance(vocab_size, int) or vocab_size < NUM_SPECIAL_TOKENS + 1:
        raise TfbigError(f"vocab_size must be an int of at least {NUM_SPECIAL_TOKENS + 1} "
                         f"(the {NUM_SPECIAL_TOKENS} special tokens plus one), got "
                         f"{vocab_size!r}")
    if min_count is not None and (not isinstance(min_count, int) or min_count < 1):
        raise TfbigError(f"min_count must be None or an int >= 1, got {min_count!r}")
    if model_type is not None and kind != SentencePieceTokenizer.kind:
        raise TfbigError(f"model_type is only for kind='sentencepiece', got kind={kind!r}; "
                         "leave model_type None")
    check_normalization_form(normalization)
    options = dict(normalization=normalization, lower_case=lower_case,
                   strip_accents=strip_accents)
    tokenizer_class, learn = TOKENIZER_KINDS[kind]
    batches = _normalized_batches(texts, **options)
    extra = {} if model_type is None else {"model_type": model_type}
    tokenizer = tokenizer_class(learn(batches, vocab_size, min_count, **extra), **options)
    if tokenizer.vocab_size == NUM_SPECIAL_TOKENS:
        raise TfbigError(f"cannot learn a {kind} vocabulary: the texts are empty (or every "
                         "token is rarer than min_count)")
    return tokenizer


def _normalized_batches(texts, *, normalization, lower_case, strip_accents):
    """Yield ``[batch]`` string tensors of normalised text, ``_BATCH_SIZE`` texts at a time."""
    if isinstance(texts, (str, bytes)):
        raise TfbigError("texts must be an iterable of strings, got a single string; wrap it "
                         "in a list")
    batch = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TfbigError(f"texts[{index}] is a {type(text).__name__}; expected str")
        batch.append(text)
        if len(batch) == _BATCH_SIZE:
            yield normalize_text(batch, form=normalization, lower_case=lower_case,
                                 strip_accents=strip_accents)
            batch = []
    if batch:
        yield normalize_text(batch, form=normalization, lower_case=lower_case,
                             strip_accents=strip_accents)


def load_tokenizer(directory):
    """Load a tokenizer written by ``Tokenizer.save(directory)``.

    Args:
        directory: the folder holding ``vocab.txt`` and ``tokenizer.json`` (and, for
            ``"sentencepiece"``, ``sentencepiece.model``).

    Returns:
        A tokenizer of the saved kind, with the saved vocabulary and options.

    Raises:
        TfbigError: the folder or a file is missing or malformed; the message names it.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise TfbigError(f"tokenizer folder {directory} does not exist; expected a folder "
                         f"written by Tokenizer.save() holding {VOCAB_FILE} and {CONFIG_FILE}")
    config = _read_config(directory / CONFIG_FILE)
    vocabulary = _read_vocabulary(directory / VOCAB_FILE)
    if len(vocabulary) != config["vocab_size"]:
        raise TfbigError(f"{directory / VOCAB_FILE} has {len(vocabulary)} tokens but "
                         f"{directory / CONFIG_FILE} says vocab_size={config['vocab_size']}")
    tokenizer_class, _ = TOKENIZER_KINDS[config["kind"]]
    options = {key: config[key] for key in ("normalization", "lower_case", "strip_accents")}
    try:
        if tokenizer_class is SentencePieceTokenizer:  # built from its model file
            return load_sentencepiece_tokenizer(directory, vocabulary, **options)
        return tokenizer_class(vocabulary, **options)
    except TfbigError as error:
        raise TfbigError(f"{directory}: {error}") from None


def _read_config(path):
    """Read and check ``tokenizer.json``."""
    if not path.is_file():
        raise TfbigError(f"tokenizer config {path} is missing; expected a JSON file written "
                         "by Tokenizer.save()")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TfbigError(f"tokenizer config {path} is not valid JSON: {error}") from None
    expected = {"kind": str, "vocab_size": int, "normalization": (str, type(None)),
                "lower_case": bool, "strip_accents": bool}
    for key, types in expected.items():
        if not isinstance(config, dict) or not isinstance(config.get(key, ...), types):
            raise TfbigError(f"tokenizer config {path} has no valid {key!r} field; expected "
                             f"the keys {', '.join(expected)}")
    if config["kind"] not in TOKENIZER_KINDS:
        raise TfbigError(f"tokenizer config {path} has kind {config['kind']!r}; valid kinds: "
                         f"{', '.join(TOKENIZER_KINDS)}")
    return config


def _read_vocabulary(path):
    """Read ``vocab.txt``: one token per line, split on ``\\n`` only (a token may be " ")."""
    if not path.is_file():
        raise TfbigError(f"tokenizer vocabulary {path} is missing; expected one token per "
                         "line, written by Tokenizer.save()")
    try:
        with open(path, encoding="utf-8", newline="") as file:
            text = file.read()
    except UnicodeDecodeError as error:
        raise TfbigError(f"tokenizer vocabulary {path} is not UTF-8: {error}") from None
    return text.removesuffix("\n").split("\n")
