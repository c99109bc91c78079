"""Importers of published checkpoints: Hugging Face BERT (and sentence-transformers) folders.

Read in this order: ``hf_files`` (the folder) → ``hf_tokenizer`` (vocab.txt → ids, as Hugging
Face makes them) → ``hf_bert_encoder`` (the contract's encoder) → ``hf_bert`` (config and
weights → ``load_hf_bert``) → ``pooling`` (sentence embeddings).

    encoder, tokenizer = load_hf_bert("path/to/all-MiniLM-L6-v2")
    hidden = encoder(tokenizer(["A sentence."]))               # [1, T, 384]
    vectors = sentence_embeddings(encoder, tokenizer, ["A sentence."])   # [1, 384], norm 1

Weights are read with ``safetensors`` (NumPy arrays, never a pickle); PyTorch and
transformers are never imported.
"""

import importlib

# Name → module, imported on first use (PEP 562): ``from tfbig.checkpoints.hf_files import
# ...`` then checks a folder without loading Keras and TensorFlow (seconds).
_EXPORTS = {
    "load_hf_bert": "hf_bert",
    "load_bert_weights": "hf_bert",
    "bert_encoder_arguments": "hf_config",
    "HFBertEncoder": "hf_bert_encoder",
    "HFBertTokenizer": "hf_tokenizer",
    "sentence_embeddings": "pooling",
    "mean_pool": "pooling",
    "max_pool": "pooling",
    "l2_normalize": "pooling",
    "pool": "pooling",
    "read_pooling_mode": "pooling",
    "POOLING_MODES": "pooling",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__():
    return sorted(list(globals()) + __all__)
