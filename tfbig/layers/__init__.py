"""The building blocks every tfbig model is made of.

Read them in this order: ``masks`` → ``attention`` (the formula) →
``multi_head_attention`` → ``positional_encoding`` and ``rotary`` (RoPE, applied inside the
attention) → ``feed_forward`` → ``dropout`` → ``encoder_block`` / ``decoder_block`` →
``encoder`` / ``decoder`` (the stacks, sharing ``stack``). ``validation`` checks the
head/width arguments for layers and models. For the model family: ``causal_block`` (GPT),
``bert_embedding``, ``patch_embedding`` (ViT), ``recurrent`` (LSTM/GRU by name).
"""

from tfbig.layers import masks
from tfbig.layers.attention import attention_weights, scaled_dot_product_attention
from tfbig.layers.bert_embedding import BertEmbedding
from tfbig.layers.causal_block import CausalBlock
from tfbig.layers.decoder import Decoder
from tfbig.layers.decoder_block import DecoderBlock
from tfbig.layers.dropout import Dropout
from tfbig.layers.encoder import Encoder
from tfbig.layers.encoder_block import EncoderBlock
from tfbig.layers.feed_forward import FeedForward
from tfbig.layers.multi_head_attention import MultiHeadAttention
from tfbig.layers.patch_embedding import PatchEmbedding
from tfbig.layers.positional_encoding import PositionalEmbedding, positional_encoding
from tfbig.layers.rotary import apply_rotary

__all__ = [
    "masks",
    "attention_weights",
    "scaled_dot_product_attention",
    "MultiHeadAttention",
    "PositionalEmbedding",
    "positional_encoding",
    "apply_rotary",
    "FeedForward",
    "Dropout",
    "EncoderBlock",
    "DecoderBlock",
    "Encoder",
    "Decoder",
    "CausalBlock",
    "BertEmbedding",
    "PatchEmbedding",
]
