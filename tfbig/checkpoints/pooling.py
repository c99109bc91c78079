"""Sentence embeddings from token vectors, the way sentence-transformers makes them.

A sentence-transformers model such as all-MiniLM-L6-v2 is a BERT followed by a pooling
step (``1_Pooling/config.json``: usually the mean of the real tokens' vectors) and an L2
normalisation, so that the dot product of two embeddings is their cosine similarity.

Reference: Reimers & Gurevych 2019, "Sentence-BERT", https://arxiv.org/abs/1908.10084
"""

import numpy as np
from keras import ops

from tfbig.checkpoints.hf_files import POOLING_CONFIG_FILE, read_json
from tfbig.errors import TfbigError
from tfbig.models.bert_classifier import masked_mean

POOLING_MODES = ("mean", "cls", "max")
# 1_Pooling/config.json switch → mode; other switches (mean_sqrt_len, weighted mean, last
# token) are refused.
_MODE_FIELDS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls",
                "pooling_mode_max_tokens": "max"}


def mean_pool(hidden, padding_mask):
    """Mean of the real tokens' vectors: ``[B, T, H]``, bool ``[B, T]`` → ``[B, H]``."""
    return masked_mean(hidden, ops.cast(padding_mask, "bool"))


def max_pool(hidden, padding_mask):
    """Per-feature maximum over the real tokens: ``[B, T, H]``, ``[B, T]`` → ``[B, H]``."""
    mask = ops.cast(padding_mask, "bool")[..., None]  # (B, T, 1)
    return ops.max(ops.where(mask, hidden, ops.cast(-1e9, hidden.dtype)), axis=1)


def l2_normalize(x, epsilon=1e-12):
    """``x / max(‖x‖, epsilon)`` along the last axis (``torch.nn.functional.normalize``)."""
    norm = ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True))
    return x / ops.maximum(norm, epsilon)


def pool(hidden, padding_mask, mode="mean"):
    """``[B, T, H]`` → ``[B, H]`` with one of :data:`POOLING_MODES`."""
    if mode == "mean":
        return mean_pool(hidden, padding_mask)
    if mode == "max":
        return max_pool(hidden, padding_mask)
    if mode == "cls":
        return hidden[:, 0]  # the [CLS] position
    raise TfbigError(f"pooling must be one of {', '.join(POOLING_MODES)}; received {mode!r}")


def read_pooling_mode(path):
    """The pooling of a sentence-transformers folder (``1_Pooling/config.json``).

    Returns ``"mean"`` when the folder has no such file (a plain BERT checkpoint).
    """
    config_path = f"{path}/{POOLING_CONFIG_FILE}"
    config = read_json(config_path, required=False)
    if not config:
        return "mean"
    modes = [mode for field, mode in _MODE_FIELDS.items() if config.get(field)]
    unsupported = sorted(field for field, value in config.items()
                         if field.startswith("pooling_mode_") and field not in _MODE_FIELDS
                         and value)
    if unsupported or len(modes) != 1:
        raise TfbigError(
            f"{config_path}: expected exactly one of the fields {sorted(_MODE_FIELDS)} to be "
            f"true; received {sorted(field for field, value in config.items() if value is True)}")
    return modes[0]


def sentence_embeddings(encoder, tokenizer, sentences, pooling="mean", normalize=True,
                        batch_size=64, max_length=None):
    """Embed sentences with a loaded checkpoint: tokenize, encode, pool, L2-normalise.

    Args:
        encoder, tokenizer: what :func:`load_hf_bert` returns.
        sentences: a list of ``str``.
        pooling: one of :data:`POOLING_MODES`; ``read_pooling_mode(folder)`` gives the
            checkpoint's own.
        normalize: scale each embedding to length 1 (sentence-transformers' ``Normalize``).
        batch_size: sentences per forward pass.
        max_length: tokens per sentence (sentence-transformers uses 256 for
            all-MiniLM-L6-v2: its ``sentence_bert_config.json`` ``max_seq_length``).

    Returns:
        float32 NumPy array ``[len(sentences), hidden]``.

    Example:
        >>> encoder, tokenizer = load_hf_bert(folder)  # doctest: +SKIP
        >>> vectors = sentence_embeddings(  # doctest: +SKIP
        ...     encoder, tokenizer, ["a cat", "a dog"])
        >>> cosine_similarity = float(vectors[0] @ vectors[1])  # doctest: +SKIP
    """
    if isinstance(sentences, str):
        raise TfbigError("sentences must be a list of str, got a single string; wrap it in a "
                         "list: [sentence]")
    if pooling not in POOLING_MODES:
        raise TfbigError(
            f"pooling must be one of {', '.join(POOLING_MODES)}; received {pooling!r}")
    sentences = list(sentences)
    outputs = []
    for start in range(0, len(sentences), batch_size):
        batch = tokenizer(sentences[start:start + batch_size], max_length=max_length)
        hidden = encoder(batch, training=False)  # (B, T, H)
        vectors = pool(hidden, batch["padding_mask"], pooling)  # (B, H)
        if normalize:
            vectors = l2_normalize(vectors)
        outputs.append(ops.convert_to_numpy(ops.cast(vectors, "float32")))
    if not outputs:
        return np.zeros((0, encoder.hidden_dim), "float32")
    return np.concatenate(outputs)
