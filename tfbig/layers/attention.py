"""Scaled dot-product attention, exactly the formula of "Attention Is All You Need".

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V

Reference: Vaswani et al. 2017, section 3.2.1, https://arxiv.org/abs/1706.03762
"""

import math

from keras import ops


def large_negative_number(dtype):
    """A finite "minus infinity" for masked scores that does not overflow ``dtype``.

    ``-1e9`` overflows float16 to ``-inf``, and a row of ``-inf`` gives NaN after softmax.
    """
    return -3.0e4 if str(dtype).endswith("float16") and "b" not in str(dtype) else -1.0e9


def attention_weights(query, key, mask=None):
    """``softmax(Q Kᵀ / √d_k)`` with masked keys removed: ``[..., T_q, T_k]``, float32.

    Args:
        query: ``[..., T_q, d_k]``.
        key: ``[..., T_k, d_k]``.
        mask: optional, broadcastable to ``[..., T_q, T_k]``; True (or 1) = may attend.
    """
    scale = 1.0 / math.sqrt(key.shape[-1])  # d_k is static: the per-head size
    # (Q/√d_k)Kᵀ = QKᵀ/√d_k: scaling Q ([T_q, d_k]) is cheaper than scaling the scores
    # ([T_q, T_k]) whenever T_k > d_k, forward and backward; keras.layers.MultiHeadAttention
    # does the same.
    scores = ops.matmul(query * scale, ops.swapaxes(key, -1, -2))  # (..., T_q, T_k)
    # Softmax in float32 even under mixed precision: exp() of float16 scores overflows.
    scores = ops.cast(scores, "float32")
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, large_negative_number(scores.dtype))
    if scores.shape[-1] == 1:
        # One key (a one-token sequence; the first generated token's cache): the softmax of
        # one score, exp(s - max) / sum = exp(s - s) = 1, written out. Keras' softmax would
        # warn that a softmax over an axis of size 1 is always 1: true, and intended here.
        return ops.exp(scores - scores)
    return ops.softmax(scores, axis=-1)


def scaled_dot_product_attention(query, key, value, mask=None):
    """Attend from ``query`` to ``key``/``value``: ``softmax(Q Kᵀ / √d_k) V``.

    Args:
        query: ``[..., T_q, d_k]``.
        key: ``[..., T_k, d_k]``.
        value: ``[..., T_k, d_v]``.
        mask: optional, broadcastable to ``[..., T_q, T_k]``; True (or 1) = may attend.

    Returns:
        ``(output, attention_weights)``: ``[..., T_q, d_v]`` and ``[..., T_q, T_k]``.
        Each row of ``attention_weights`` sums to 1 over the keys it may attend to.

    Example:
        >>> import numpy as np
        >>> q = k = v = np.eye(3, dtype="float32")[None]
        >>> out, w = scaled_dot_product_attention(q, k, v)
        >>> tuple(out.shape), tuple(w.shape)
        ((1, 3, 3), (1, 3, 3))
    """
    weights = ops.cast(attention_weights(query, key, mask), value.dtype)
    return ops.matmul(weights, value), weights
