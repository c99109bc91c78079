"""The one check of the head and width arguments every attention layer and model takes."""

import numbers

from tfbig.errors import TfbigError


def check_num_heads(width, num_heads, width_name="d_model"):
    """Raise :class:`TfbigError` unless ``num_heads`` heads split ``width`` evenly.

    Both must be positive integers, and ``num_heads`` must divide ``width``: each head
    attends with ``width / num_heads`` features. The message names the argument, the value
    received and what was expected.

    Args:
        width: the model width (``d_model``, or ``hidden_dim`` in the BERT/GPT/ViT models).
        num_heads: the number of attention heads.
        width_name: the width argument's name, as the caller's constructor spells it.

    Example:
        >>> check_num_heads(16, 4)  # 4 heads of 4 features each: no error
        >>> check_num_heads(10, 3, "hidden_dim")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        tfbig.errors.TfbigError: hidden_dim (10) must be divisible by num_heads (3): ...
    """
    for name, value in ((width_name, width), ("num_heads", num_heads)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise TfbigError(f"{name} must be a positive integer, received {value!r}")
    if width % num_heads:
        raise TfbigError(
            f"{width_name} ({width}) must be divisible by num_heads ({num_heads}): each head "
            f"gets {width_name} / num_heads features")
