"""Multi-head attention: h scaled dot-product attentions over learned projections.

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,
    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

Reference: Vaswani et al. 2017, section 3.2.2, https://arxiv.org/abs/1706.03762
"""

import keras
from keras import ops

from tfbig.layers.attention import attention_weights
from tfbig.layers.dropout import Dropout
from tfbig.layers.rotary import apply_rotary, check_rotary_head_dim, positions_from


def cache_length(cache):
    """``T_max`` of a key/value cache in either form :class:`MultiHeadAttention` takes."""
    return ops.shape(cache[0])[2] if isinstance(cache, (tuple, list)) else ops.shape(cache)[3]


@keras.saving.register_keras_serializable(package="tfbig")
class MultiHeadAttention(keras.layers.Layer):
    """Real multi-head attention: split heads, attend per head, concatenate, project.

    Args:
        num_heads: number of attention heads ``h``.
        key_dim: size of each head's queries and keys (``d_k``; ``d_model / h`` in the paper).
        value_dim: size of each head's values (``d_v``); defaults to ``key_dim``.
        dropout: dropout rate on the attention weights.
        output_dim: size of the output projection; defaults to the query's last dimension.
        use_bias: whether the four projections have biases.
        kernel_initializer: initializer of the projection kernels.
        rotary: rotate queries and keys by their positions (RoPE, see
            :mod:`tfbig.layers.rotary`) after the projections, before the scores; for
            self-attention. ``key_dim`` must be even.

    Call arguments:
        query: ``[batch, T_q, d_model]``.
        value: ``[batch, T_k, d_model]``; defaults to ``query`` (self-attention).
        key: ``[batch, T_k, d_model]``; defaults to ``value``.
        attention_mask: bool, broadcastable to ``[batch, T_q, T_k]``; True = may attend.
        return_attention_scores: also return the weights ``[batch, heads, T_q, T_k]``.
        cache: for incremental decoding, keys and values: one tensor
            ``[batch, 2, heads, T_max, d_k]``, or a pair ``(keys, values)`` of
            ``[batch, heads, T_max, d_k]`` (what a compiled decoding loop should carry: a
            slice of the stacked tensor is a copy of half the cache every step). With
            ``cache_update_index`` the new keys/values of ``query``'s positions are written
            at that index (self-attention); without it the cache is used as is
            (cross-attention over a fixed encoder output). The new cache comes back in the
            form it was given. With ``rotary`` the cache holds rotated keys.
        cache_update_index: position of ``query``'s first token in the cache (with
            ``rotary``, also the absolute position its query and key are rotated by).

    Returns ``output`` ``[batch, T_q, output_dim]``, then the new ``cache`` if one was given,
    then the attention weights if asked for.

    Example:
        >>> import numpy as np
        >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
        >>> x = np.ones((1, 5, 8), "float32")
        >>> tuple(mha(x, x).shape)
        (1, 5, 8)
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, output_dim=None,
                 use_bias=True, kernel_initializer="glorot_uniform", rotary=False, **kwargs):
        super().__init__(**kwargs)
        if rotary:
            check_rotary_head_dim(key_dim)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim or key_dim
        self.dropout = dropout
        self.output_dim = output_dim
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.rotary = rotary

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape

        def dense(units, name, input_shape):
            layer = keras.layers.Dense(
                units, use_bias=self.use_bias, name=name,
                kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy)
            layer.build(input_shape)
            return layer

        self.query_dense = dense(self.num_heads * self.key_dim, "query", query_shape)
        self.key_dense = dense(self.num_heads * self.key_dim, "key", key_shape)
        self.value_dense = dense(self.num_heads * self.value_dim, "value", value_shape)
        output_dim = self.output_dim or query_shape[-1]
        self.output_dense = dense(
            output_dim, "attention_output",
            tuple(query_shape[:-1]) + (self.num_heads * self.value_dim,))
        self.attention_dropout = Dropout(self.dropout, name="attention_dropout")

    def split_heads(self, x, head_dim):
        """``[batch, T, heads * head_dim]`` → ``[batch, heads, T, head_dim]``."""
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, length, self.num_heads, head_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def merge_heads(self, x):
        """``[batch, heads, T, head_dim]`` → ``[batch, T, heads * head_dim]`` (the Concat)."""
        batch, length = ops.shape(x)[0], ops.shape(x)[2]
        x = ops.transpose(x, (0, 2, 1, 3))
        return ops.reshape(x, (batch, length, self.num_heads * self.value_dim))

    def rotate(self, x, offset=0):
        """Queries or keys ``[batch, heads, T, d_k]`` at positions ``offset …``, rotated
        when the layer is ``rotary`` (returned as they are otherwise)."""
        if not self.rotary:
            return x
        return apply_rotary(x, positions_from(ops.shape(x)[2], offset))

    def project_key_value(self, value, key=None, pair=False):
        """Keys and values of a whole sequence, ``[batch, 2, heads, T_k, head_dim]`` (with
        ``pair``: ``(keys, values)``, each ``[batch, heads, T_k, head_dim]``).

        Used to fill a cross-attention cache once per generated sequence.
        """
        key = value if key is None else key
        k = self.rotate(self.split_heads(self.key_dense(key), self.key_dim))  # positions 0…
        v = self.split_heads(self.value_dense(value), self.value_dim)
        return (k, v) if pair else ops.stack([k, v], axis=1)

    def call(self, query, value=None, key=None, attention_mask=None, training=None,
             return_attention_scores=False, cache=None, cache_update_index=None):
        value = query if value is None else value
        key = value if key is None else key
        # Rotary: the new tokens sit at positions offset…, in a cache or not; cached keys
        # were rotated by their own positions when they were written.
        offset = 0 if cache_update_index is None else cache_update_index
        q = self.split_heads(self.query_dense(query), self.key_dim)  # (B, h, T_q, d_k)
        q = self.rotate(q, offset)
        paired = isinstance(cache, (tuple, list))
        if cache is not None and cache_update_index is None:
            # Fixed keys/values, e.g. the encoder output's.
            k, v = cache if paired else (cache[:, 0], cache[:, 1])
        else:
            k = self.split_heads(self.key_dense(key), self.key_dim)  # (B, h, T_k, d_k)
            k = self.rotate(k, offset)
            v = self.split_heads(self.value_dense(value), self.value_dim)  # (B, h, T_k, d_v)
            if paired:
                # Written in place into the loop-carried keys and values, read as they are.
                start = [0, 0, cache_update_index, 0]
                k = ops.slice_update(cache[0], start, ops.cast(k, cache[0].dtype))
                v = ops.slice_update(cache[1], start, ops.cast(v, cache[1].dtype))
                cache = (k, v)
            elif cache is not None:
                # One in-place write of the new keys and values into the cache, then read
                # both back: writing k and v separately and stacking them again would copy
                # the whole cache every step.
                new_key_value = ops.cast(ops.stack([k, v], axis=1), cache.dtype)
                cache = ops.slice_update(cache, [0, 0, 0, cache_update_index, 0],
                                         new_key_value)
                k, v = cache[:, 0], cache[:, 1]

        mask = None
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")
            if len(mask.shape) == 3:
                mask = ops.expand_dims(mask, axis=1)  # (B, 1, T_q, T_k): same for every head
        # The same steps as scaled_dot_product_attention, with dropout on the weights
        # between the softmax and the weighted sum (as in Keras' own layer).
        weights = ops.cast(attention_weights(q, k, mask), v.dtype)  # (B, h, T_q, T_k)
        heads = ops.matmul(self.attention_dropout(weights, training=training), v)
        output = self.output_dense(self.merge_heads(heads))  # (B, T_q, output_dim)

        results = (output,)
        if cache is not None:
            results += (cache,)
        if return_attention_scores:
            results += (weights,)
        return results[0] if len(results) == 1 else results


    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            value_dim=self.value_dim,
            dropout=self.dropout,
            output_dim=self.output_dim,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            rotary=self.rotary,
        )
        return config
