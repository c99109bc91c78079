"""Load a Hugging Face BERT checkpoint: ``load_hf_bert(folder)`` → ``(encoder, tokenizer)``.

Three steps, each checked with an error that names the file, the field or the tensor:

1. ``config.json`` → :class:`BertEncoder` sizes (:mod:`tfbig.checkpoints.hf_config`);
   anything that is not a plain BERT (``model_type`` ``roberta``, relative positions, a
   decoder) is refused.
2. ``model.safetensors`` → NumPy arrays (``safetensors.numpy``: no pickle, no PyTorch), an
   optional ``bert.`` prefix stripped, old ``LayerNorm.gamma/beta`` names read as
   ``weight/bias``, every tensor matched one to one to a weight (table in
   :mod:`tfbig.models.bert_encoder`); PyTorch ``Linear`` weights are ``[out, in]``, Keras
   ``Dense`` kernels ``[in, out]``: they are transposed.
3. ``vocab.txt`` (+ ``tokenizer_config.json``) → :class:`HFBertTokenizer`.

Reference: https://huggingface.co/docs/transformers/model_doc/bert
"""

import warnings

import numpy as np

from tfbig.checkpoints.hf_bert_encoder import HFBertEncoder
from tfbig.checkpoints.hf_config import bert_encoder_arguments
from tfbig.checkpoints.hf_files import (
    CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, checkpoint_folder, required_file)
from tfbig.checkpoints.hf_tokenizer import HFBertTokenizer
from tfbig.errors import TfbigError
from tfbig.models.bert_encoder import BertEncoder

# Tensors a BERT checkpoint may hold that the encoder does not need, skipped silently.
IGNORED_TENSORS = ("embeddings.position_ids",)  # a buffer 0..max_len-1, not a weight
IGNORED_PREFIXES = ("cls.predictions.", "cls.seq_relationship.")  # MLM and NSP heads
# Fine-tuned task heads (BertForSequenceClassification, ...): skipped with a warning.
TASK_HEAD_PREFIXES = ("classifier.", "qa_outputs.")
POOLER = "pooler.dense."


def load_hf_bert(path, *, dropout=0.0, max_length=None):
    """Load a Hugging Face BERT folder as a tfbig encoder and tokenizer.

    Args:
        path: folder with ``config.json``, ``model.safetensors`` and ``vocab.txt`` (e.g. a
            ``save_pretrained`` output or a Hub snapshot).
        dropout: dropout of the encoder; 0 for inference (set e.g. 0.1 to fine-tune).
        max_length: tokenizer truncation length; default: the checkpoint's
            (``model_max_length``, at most ``max_position_embeddings``).

    Returns:
        ``(encoder, tokenizer)``: an :class:`HFBertEncoder` (``encoder(batch)`` → last hidden
        states ``[B, T, H]``; ``encoder.backbone`` is the :class:`BertEncoder`) and an
        :class:`HFBertTokenizer` (``tokenizer(texts)`` → ``{"token_ids", "padding_mask"}``).
        A checkpoint without a pooler (``pooler.dense.*``) loads with a warning: the
        pooler, used only by ``backbone(...)["pooled_output"]``, stays random.

    Example:
        >>> encoder, tokenizer = load_hf_bert("all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> hidden = encoder(tokenizer(["Hello world!"]))  # doctest: +SKIP
        >>> tuple(hidden.shape)  # doctest: +SKIP
        (1, 5, 384)
    """
    folder = checkpoint_folder(path)
    arguments = bert_encoder_arguments(folder / CONFIG_FILE)
    weights_path = required_file(folder, WEIGHTS_FILE)
    required_file(folder, VOCAB_FILE)
    tokenizer = HFBertTokenizer.from_folder(folder, max_length=max_length)
    if tokenizer.vocab_size > arguments["vocabulary_size"]:
        raise TfbigError(
            f"{folder / VOCAB_FILE} has {tokenizer.vocab_size} tokens but "
            f"{folder / CONFIG_FILE} says vocab_size={arguments['vocabulary_size']}; the "
            "embedding table needs a row for every token")

    backbone = BertEncoder(**arguments, dropout=dropout, name="backbone")
    encoder = HFBertEncoder(backbone, name="hf_bert_encoder")
    ids = np.array([[tokenizer.cls_id, tokenizer.sep_id]], "int32")
    encoder({"token_ids": ids, "padding_mask": np.ones_like(ids, bool)})  # creates weights
    load_bert_weights(backbone, weights_path)
    return encoder, tokenizer


def bert_weight_table(backbone):
    """Hugging Face tensor name → ``(keras variable, is_dense_kernel)`` for a built encoder."""
    table = {}

    def dense(name, layer):
        table[f"{name}.weight"] = (layer.kernel, True)
        table[f"{name}.bias"] = (layer.bias, False)

    def norm(name, layer):
        table[f"{name}.weight"] = (layer.gamma, False)
        table[f"{name}.bias"] = (layer.beta, False)

    embedding = backbone.embedding
    table["embeddings.word_embeddings.weight"] = (embedding.token_embedding.embeddings, False)
    table["embeddings.position_embeddings.weight"] = (
        embedding.position_embedding.embeddings, False)
    table["embeddings.token_type_embeddings.weight"] = (
        embedding.segment_embedding.embeddings, False)
    norm("embeddings.LayerNorm", embedding.embedding_norm)
    for index, block in enumerate(backbone.blocks):
        layer = f"encoder.layer.{index}"
        attention = block.self_attention  # q/k/v: Dense of width heads * head_dim
        dense(f"{layer}.attention.self.query", attention.query_dense)
        dense(f"{layer}.attention.self.key", attention.key_dense)
        dense(f"{layer}.attention.self.value", attention.value_dense)
        dense(f"{layer}.attention.output.dense", attention.output_dense)
        norm(f"{layer}.attention.output.LayerNorm", block.attention_norm)
        dense(f"{layer}.intermediate.dense", block.feed_forward.inner)
        dense(f"{layer}.output.dense", block.feed_forward.outer)
        norm(f"{layer}.output.LayerNorm", block.feed_forward_norm)
    dense(POOLER.rstrip("."), backbone.pooler)
    return table


def load_bert_weights(backbone, weights_path):
    """Copy every tensor of a BERT ``model.safetensors`` into a built :class:`BertEncoder`.

    All tensors are checked (unknown, missing, shape) before any weight is changed.
    """
    from safetensors.numpy import load_file  # NumPy arrays only, never a pickle

    try:
        tensors = load_file(str(weights_path))
    except Exception as error:  # safetensors raises its own error types
        hint = ("; bfloat16 weights cannot be read into NumPy: save the checkpoint in float32 "
                "(model.float().save_pretrained(...))" if "bfloat16" in str(error) else "")
        raise TfbigError(f"{weights_path} could not be read as safetensors: {error}"
                         f"{hint}") from None
    table = bert_weight_table(backbone)
    found, skipped_heads, unexpected = {}, [], []
    for name, value in tensors.items():
        key = _canonical_name(name)
        if key in IGNORED_TENSORS or key.startswith(IGNORED_PREFIXES):
            continue
        if key.startswith(TASK_HEAD_PREFIXES):
            skipped_heads.append(name)
        elif key in table:
            found[key] = (name, value)
        else:
            unexpected.append(name)
    if unexpected:
        raise TfbigError(
            f"{weights_path} holds tensor(s) a BERT encoder does not have: "
            f"{_some(unexpected)}; expected names such as 'encoder.layer.0.attention.self."
            "query.weight' (optionally prefixed 'bert.'); is it a BERT checkpoint?")
    has_pooler = any(key.startswith(POOLER) for key in found)  # all or nothing
    missing = [key for key in table
               if key not in found and (has_pooler or not key.startswith(POOLER))]
    if missing:
        raise TfbigError(f"{weights_path} lacks tensor(s) {_some(missing)}, which a BERT with "
                         f"the sizes of {CONFIG_FILE} needs")
    for key, (name, value) in found.items():
        variable, is_kernel = table[key]
        expected = tuple(variable.shape)[::-1] if is_kernel else tuple(variable.shape)
        if tuple(value.shape) != expected:
            raise TfbigError(
                f"tensor {name!r} in {weights_path} has shape {tuple(value.shape)}; expected "
                f"{expected} from the sizes in {CONFIG_FILE}")
        if not np.issubdtype(value.dtype, np.floating):
            raise TfbigError(f"tensor {name!r} in {weights_path} has dtype {value.dtype}; "
                             "expected floating point weights")

    for key, (name, value) in found.items():
        variable, is_kernel = table[key]
        variable.assign((value.T if is_kernel else value).astype(variable.dtype))
    if skipped_heads:
        warnings.warn(f"{weights_path}: task head tensor(s) {_some(skipped_heads)} were not "
                      "loaded; load_hf_bert returns the encoder only", stacklevel=3)
    if not has_pooler:
        warnings.warn(f"{weights_path} has no pooler ({POOLER}weight/bias): the encoder's "
                      "pooler keeps its random initialisation; use mean pooling or "
                      "fine-tune before relying on backbone(...)['pooled_output']",
                      stacklevel=3)


def _canonical_name(name):
    """``bert.embeddings.LayerNorm.gamma`` → ``embeddings.LayerNorm.weight``."""
    name = name.removeprefix("bert.")
    if "LayerNorm." in name:  # TensorFlow-converted checkpoints use gamma/beta
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight")
        name = name.replace("LayerNorm.beta", "LayerNorm.bias")
    return name


def _some(names, limit=5):
    """``'a', 'b', 'c' and 2 more``."""
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
