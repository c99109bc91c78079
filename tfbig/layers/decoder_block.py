"""One decoder layer: causal self-attention, cross-attention to the encoder, feed-forward.

Each sublayer is wrapped in residual + norm, post-norm (paper) or pre-norm (see
``encoder_block.py``). Reference: Vaswani et al. 2017, section 3.1,
https://arxiv.org/abs/1706.03762
"""

import keras

from tfbig.layers.arguments import KeepsArguments
from tfbig.layers.dropout import Dropout
from tfbig.layers.feed_forward import FeedForward
from tfbig.layers.multi_head_attention import MultiHeadAttention
from tfbig.layers.validation import check_num_heads


@keras.saving.register_keras_serializable(package="tfbig")
class DecoderBlock(KeepsArguments, keras.layers.Layer):
    """Masked self-attention, then attention over the encoder output, then feed-forward.

    Args: as :class:`tfbig.layers.EncoderBlock`; ``rotary`` rotates the self-attention's
    queries and keys only.

    Call arguments:
        x: target representations ``[batch, T_t, d_model]``.
        encoder_output: ``[batch, T_s, d_model]`` (may be ``None`` when
            ``cross_attention_cache`` holds its keys and values).
        self_attention_mask: bool, broadcastable to ``[batch, T_t, T_t]``; causal + padding.
        cross_attention_mask: bool, broadcastable to ``[batch, T_t, T_s]``; source padding.
        self_attention_cache: keys/values of the tokens decoded so far (incremental
            decoding), ``[batch, 2, heads, T_max, head_dim]`` or a ``(keys, values)``
            pair; updated at ``cache_update_index``.
        cross_attention_cache: precomputed keys/values of ``encoder_output``.
        return_attention_scores: also return ``{"self": ..., "cross": ...}`` weights.

    Returns ``x``; with ``self_attention_cache``, ``(x, new_self_attention_cache)``; with
    ``return_attention_scores``, the weights dict is appended.
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

        def norm(name):
            return keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, name=name, dtype=self.dtype_policy)

        def attention(name, rotary=False):
            return MultiHeadAttention(num_heads, d_model // num_heads,
                                      dropout=self.attention_dropout, rotary=rotary, name=name,
                                      dtype=self.dtype_policy)

        self.self_attention = attention("self_attention", rotary)
        self.self_attention_norm = norm("self_attention_norm")
        self.self_attention_residual_dropout = Dropout(
            dropout_rate, name="self_attention_residual_dropout")
        # Cross-attention is never rotated: a target position and a source position index
        # two different sequences, so their offset m - n means nothing. The source order is
        # already in the encoder output (mixed in by the encoder's rotary self-attention),
        # the target order in the decoder's hidden states.
        self.cross_attention = attention("cross_attention")
        self.cross_attention_norm = norm("cross_attention_norm")
        self.cross_attention_residual_dropout = Dropout(
            dropout_rate, name="cross_attention_residual_dropout")
        self.feed_forward = FeedForward(
            d_model, dff, activation, name="feed_forward", dtype=self.dtype_policy)
        self.feed_forward_norm = norm("feed_forward_norm")
        self.feed_forward_residual_dropout = Dropout(
            dropout_rate, name="feed_forward_residual_dropout")

    def build(self, x_shape, encoder_output_shape=None):
        # Keras matches build's argument names to call's: x → x_shape.
        encoder_output_shape = encoder_output_shape or x_shape
        self.self_attention.build(x_shape)
        self.cross_attention.build(x_shape, encoder_output_shape)
        for layer in (self.self_attention_norm, self.cross_attention_norm,
                      self.feed_forward, self.feed_forward_norm):
            layer.build(x_shape)

    def call(self, x, encoder_output=None, self_attention_mask=None, cross_attention_mask=None,
             training=None, self_attention_cache=None, cache_update_index=None,
             cross_attention_cache=None, return_attention_scores=False):
        # Sublayer 1: causal self-attention (optionally reading/writing the key/value cache).
        h = self.self_attention_norm(x) if self.norm_first else x
        outputs = self.self_attention(
            h, attention_mask=self_attention_mask, training=training,
            cache=self_attention_cache, cache_update_index=cache_update_index,
            return_attention_scores=True)
        if self_attention_cache is not None:
            h, self_attention_cache, self_weights = outputs
        else:
            h, self_weights = outputs
        x = x + self.self_attention_residual_dropout(h, training=training)
        if not self.norm_first:
            x = self.self_attention_norm(x)

        # Sublayer 2: cross-attention, queries from the decoder, keys/values from the encoder.
        h = self.cross_attention_norm(x) if self.norm_first else x
        outputs = self.cross_attention(
            h, encoder_output, attention_mask=cross_attention_mask, training=training,
            cache=cross_attention_cache, return_attention_scores=True)
        if cross_attention_cache is not None:
            h, _, cross_weights = outputs
        else:
            h, cross_weights = outputs
        x = x + self.cross_attention_residual_dropout(h, training=training)
        if not self.norm_first:
            x = self.cross_attention_norm(x)

        # Sublayer 3: position-wise feed-forward.
        h = self.feed_forward_norm(x) if self.norm_first else x
        x = x + self.feed_forward_residual_dropout(self.feed_forward(h), training=training)
        if not self.norm_first:
            x = self.feed_forward_norm(x)

        results = (x,)
        if self_attention_cache is not None:
            results += (self_attention_cache,)
        if return_attention_scores:
            results += ({"self": self_weights, "cross": cross_weights},)
        return results[0] if len(results) == 1 else results
