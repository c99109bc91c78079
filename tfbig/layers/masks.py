"""Attention masks, as pure functions.

Convention used everywhere in tfbig: a mask is boolean and **True means "may attend"**.
Masks broadcast against attention scores shaped ``[batch, heads, T_q, T_k]``; a mask
of shape ``[batch, T_q, T_k]`` gets the heads axis added by the attention layer.

Token id 0 is padding (``PAD_ID``) in every tfbig model.
"""

from keras import ops

from tfbig.special_tokens import PAD_ID  # 0: padding in every vocabulary


def padding_mask(token_ids, pad_id=PAD_ID):
    """Which tokens are real: ``[batch, T]`` ids → ``[batch, T]`` bool (False at padding)."""
    return ops.not_equal(token_ids, pad_id)


def key_padding_mask(token_ids, pad_id=PAD_ID):
    """Mask for attending *to* ``token_ids``: ``[batch, T_k]`` → ``[batch, 1, T_k]`` bool.

    Broadcasts over every query position: no query may attend to a padded key.
    """
    return ops.expand_dims(padding_mask(token_ids, pad_id), axis=1)


def causal_mask(query_length, key_length=None):
    """Look-ahead mask ``[T_q, T_k]``: query ``i`` may attend to keys ``j <= i + (T_k - T_q)``.

    With ``T_q == T_k`` this is the lower-triangular matrix of "Attention Is All You Need"
    (section 3.2.3). When ``T_k > T_q`` the queries are the *last* ``T_q`` positions of the
    sequence (incremental decoding with a key/value cache), so every earlier key is visible.
    """
    key_length = query_length if key_length is None else key_length
    rows = ops.expand_dims(ops.arange(query_length), 1) + (key_length - query_length)
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return ops.greater_equal(rows, cols)


def decoder_self_attention_mask(target_ids, pad_id=PAD_ID):
    """Causal mask combined with the target's key padding: ``[batch, T, T]`` bool."""
    length = ops.shape(target_ids)[1]
    return ops.logical_and(
        ops.expand_dims(causal_mask(length), 0),  # (1, T, T)
        key_padding_mask(target_ids, pad_id),  # (B, 1, T)
    )
