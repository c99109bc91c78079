"""The inputs every tfbig text classifier and encoder takes, unpacked in one place.

``{"token_ids": int32 [B, T], "padding_mask": bool [B, T]}`` (True = real token), plus an
optional ``"segment_ids": int32 [B, T]`` for BERT. A bare ``token_ids`` tensor is accepted
too; its padding mask is then ``token_ids != 0``.
"""

from keras import ops

from tfbig.errors import TfbigError


def unpack_text_inputs(inputs):
    """``{"token_ids", "padding_mask"[, "segment_ids"]}`` → the three tensors.

    A bare ``token_ids`` tensor is accepted too: its padding mask is ``token_ids != 0``.
    ``segment_ids`` is ``None`` when absent.
    """
    if not isinstance(inputs, dict):
        token_ids = ops.convert_to_tensor(inputs)
        return token_ids, ops.not_equal(token_ids, 0), None
    _check_keys(inputs)
    token_ids = inputs["token_ids"]
    padding_mask = inputs.get("padding_mask")
    if padding_mask is None:
        padding_mask = ops.not_equal(token_ids, 0)
    return token_ids, ops.cast(padding_mask, "bool"), inputs.get("segment_ids")


def _check_keys(inputs):
    if "token_ids" not in inputs:
        raise TfbigError(f"inputs must hold 'token_ids' (and 'padding_mask'); received keys "
                         f"{sorted(inputs)}")


def token_ids_shape(input_shape):
    """The ``token_ids`` shape out of a (possibly dict) input shape."""
    if isinstance(input_shape, dict):
        _check_keys(input_shape)
        input_shape = input_shape["token_ids"]
    return tuple(input_shape)
