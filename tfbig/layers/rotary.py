"""Rotary position embeddings (RoPE): position enters attention by rotating queries and keys.

Feature pair ``i`` of a head (``i = 0 … d/2 - 1``) of the vector at position ``m`` is
rotated by the angle ``m·θ_i``, with ``θ_i = 10000^(-2i/d)`` (``d`` = head size):

    (x_i, x_{i+d/2}) → (x_i cos mθ_i − x_{i+d/2} sin mθ_i,
                        x_{i+d/2} cos mθ_i + x_i sin mθ_i)

or for the whole vector, ``rope(x, m) = x ⊙ cos(mθ) + rotate_half(x) ⊙ sin(mθ)`` with
``rotate_half([x1, x2]) = [−x2, x1]`` and ``θ`` repeated for both halves. A rotation keeps
lengths, and rotating ``q`` by ``mθ`` and ``k`` by ``nθ`` turns their dot product into a
function of ``q``, ``k`` and ``m − n`` only: attention scores see relative positions, and
no position table is added to the embeddings.

Pairs are ``(i, i + d/2)`` ("rotate half"), as in GPT-NeoX and LLaMA, not the paper's
adjacent ``(2i, 2i + 1)``: the same model up to a fixed permutation of each head's
features (which the learned projections absorb), computed with two slices instead of a
strided interleave.

Reference: Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary Position
Embedding", section 3.2, https://arxiv.org/abs/2104.09864
"""

from keras import ops

from tfbig.errors import TfbigError

MAX_WAVELENGTH = 10000.0  # the base of θ_i (the paper's and the sinusoidal encoding's)


def check_rotary_head_dim(head_dim):
    """Raise :class:`TfbigError` (a ``ValueError``) unless ``head_dim`` is even: rotary
    position embeddings rotate feature pairs."""
    if head_dim % 2:
        raise TfbigError(
            f"rotary position embeddings rotate features in pairs, so the head size must be "
            f"even; received {head_dim} (d_model / num_heads): change num_heads or d_model")


def rotate_half(x):
    """``[x1, x2] → [−x2, x1]`` over the last axis (halves of size ``d/2``)."""
    x1, x2 = ops.split(x, 2, axis=-1)  # (..., d/2) each
    return ops.concatenate([-x2, x1], axis=-1)


def rotary_angles(positions, head_dim, max_wavelength=MAX_WAVELENGTH):
    """``m·θ`` for each position ``m``: float32 ``[..., head_dim]`` (θ repeated for both
    halves), for int ``positions`` of any shape."""
    exponents = ops.arange(0, head_dim, 2, dtype="float32") / head_dim  # (d/2,): 2i/d
    inverse_frequencies = ops.power(max_wavelength, -exponents)  # (d/2,): θ_i
    # float32 whatever the compute dtype: bfloat16 cannot even hold position 257 exactly.
    angles = ops.expand_dims(ops.cast(positions, "float32"), -1) * inverse_frequencies
    return ops.concatenate([angles, angles], axis=-1)  # (..., d)


def apply_rotary(x, positions, max_wavelength=MAX_WAVELENGTH):
    """Rotate queries or keys ``x`` ``[batch, heads, T, head_dim]`` by their positions.

    Args:
        x: ``[batch, heads, T, head_dim]``, ``head_dim`` even.
        positions: int positions of the ``T`` vectors: ``[T]`` (the same for every row), or
            ``[batch, T]``. In cached decoding they are ``offset + arange(T)``, the absolute
            positions of the new tokens (see :func:`positions_from`).
        max_wavelength: the base of ``θ_i``.

    Returns:
        ``x ⊙ cos(mθ) + rotate_half(x) ⊙ sin(mθ)``, same shape and dtype as ``x``.

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 2, 3, 4), "float32")  # (B, heads, T, head_dim)
        >>> y = apply_rotary(x, np.arange(3))
        >>> tuple(y.shape), bool(np.allclose(np.asarray(y)[:, :, 0], 1.0))  # position 0: as is
        ((1, 2, 3, 4), True)
    """
    head_dim = x.shape[-1]
    check_rotary_head_dim(head_dim)
    angles = rotary_angles(positions, head_dim, max_wavelength)  # ([B,] T, d)
    if len(angles.shape) == 3:
        angles = ops.expand_dims(angles, 1)  # (B, 1, T, d): the same for every head
    cos, sin = ops.cast(ops.cos(angles), x.dtype), ops.cast(ops.sin(angles), x.dtype)
    return x * cos + rotate_half(x) * sin


def positions_from(length, offset=0):
    """Absolute positions ``offset … offset + length − 1``, int32 ``[length]``.

    ``offset`` is the position of the first of ``length`` tokens: 0 for a whole sequence,
    the cache index (a scalar tensor inside a decoding loop) for cached steps.
    """
    return ops.arange(length, dtype="int32") + ops.cast(offset, "int32")
