"""One encoder layer: self-attention and feed-forward, each wrapped in residual + norm.

Post-norm (the paper, section 3.1):  x = LayerNorm(x + Dropout(Sublayer(x)))
Pre-norm (GPT-2 and most modern models, trains more stably when deep):
                                      x = x + Dropout(Sublayer(LayerNorm(x)))
Both are written out in ``call`` so the difference reads side by side.
"""

import keras

from tfbig.layers.arguments import KeepsArguments
from tfbig.layers.dropout import Dropout
from tfbig.layers.feed_forward import FeedForward
from tfbig.layers.multi_head_attention import MultiHeadAttention
from tfbig.layers.validation import check_num_heads


@keras.saving.register_keras_serializable(package="tfbig")
class EncoderBlock(KeepsArguments, keras.layers.Layer):
    """Self-attention over the whole (unmasked) sequence, then a feed-forward network.

    Args:
        d_model: model width.
        num_heads: attention heads; must divide ``d_model``.
        dff: feed-forward inner size.
        dropout_rate: residual dropout (applied to each sublayer's output).
        attention_dropout: dropout on attention weights; defaults to ``dropout_rate``.
        activation: feed-forward activation (``"relu"`` or ``"gelu"``).
        norm_first: pre-norm instead of the paper's post-norm.
        layer_norm_epsilon: epsilon of the layer norms.
        rotary: rotary position embeddings in the self-attention (queries and keys rotated by
            their positions, :mod:`tfbig.layers.rotary`); ``d_model / num_heads`` even.

    Call arguments:
        x: ``[batch, T, d_model]``.
        attention_mask: bool broadcastable to ``[batch, T, T]`` (True = may attend),
            typically ``masks.key_padding_mask(token_ids)``.
        return_attention_scores: also return the weights ``[batch, heads, T, T]``.

    Example:
        >>> import numpy as np
        >>> block = EncoderBlock(d_model=8, num_heads=2, dff=16)
        >>> tuple(block(np.ones((1, 4, 8), "float32")).shape)
        (1, 4, 8)
    """

    def __init__(self, d_model, num_heads, dff, dropout_rate=0.1, attention_dropout=None,
                 activation="relu", norm_first=False, layer_norm_epsilon=1e-6, rotary=False,
                 **kwargs):
        super().__init__(**kwargs)
        check_num_heads(d_model, num_heads)
        self.keep_arguments(
            d_model=d_model, num_heads=num_heads, dff=dff, dropout_rate=dropout_rate,
            attention_dropout=dropout_rate if attention_dropout is None else attention_dropout,
            activation=activation, norm_first=norm_first, layer_norm_epsilon=layer_norm_epsilon,
            rotary=rotary)

        self.self_attention = MultiHeadAttention(
            num_heads, d_model // num_heads, dropout=self.attention_dropout, rotary=rotary,
            name="self_attention", dtype=self.dtype_policy)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="attention_norm", dtype=self.dtype_policy)
        self.attention_residual_dropout = Dropout(
            dropout_rate, name="attention_residual_dropout")
        self.feed_forward = FeedForward(
            d_model, dff, activation, name="feed_forward", dtype=self.dtype_policy)
        self.feed_forward_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="feed_forward_norm", dtype=self.dtype_policy)
        self.feed_forward_residual_dropout = Dropout(
            dropout_rate, name="feed_forward_residual_dropout")

    def build(self, input_shape):
        self.self_attention.build(input_shape)
        self.attention_norm.build(input_shape)
        self.feed_forward.build(input_shape)
        self.feed_forward_norm.build(input_shape)

    def call(self, x, attention_mask=None, training=None, return_attention_scores=False):
        # Sublayer 1: self-attention.
        h = self.attention_norm(x) if self.norm_first else x
        h, weights = self.self_attention(
            h, attention_mask=attention_mask, training=training, return_attention_scores=True)
        x = x + self.attention_residual_dropout(h, training=training)
        if not self.norm_first:
            x = self.attention_norm(x)

        # Sublayer 2: position-wise feed-forward.
        h = self.feed_forward_norm(x) if self.norm_first else x
        x = x + self.feed_forward_residual_dropout(self.feed_forward(h), training=training)
        if not self.norm_first:
            x = self.feed_forward_norm(x)
        return (x, weights) if return_attention_scores else x
