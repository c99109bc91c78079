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

from tfbig.checkpoints.hf_bert import bert_encoder_arguments, load_bert_weights, load_hf_bert
from tfbig.checkpoints.hf_bert_encoder import HFBertEncoder
from tfbig.checkpoints.hf_tokenizer import HFBertTokenizer
from tfbig.checkpoints.pooling import (
    POOLING_MODES, l2_normalize, max_pool, mean_pool, pool, read_pooling_mode,
    sentence_embeddings)

__all__ = [
    "load_hf_bert",
    "HFBertEncoder",
    "HFBertTokenizer",
    "bert_encoder_arguments",
    "load_bert_weights",
    "sentence_embeddings",
    "mean_pool",
    "max_pool",
    "l2_normalize",
    "pool",
    "read_pooling_mode",
    "POOLING_MODES",
]
