"""Rotary position embeddings: a NumPy reference, the paper's rotation matrix, the
relative-position property, and RoPE inside MultiHeadAttention (cache, Keras checklist)."""

import keras
import numpy as np
import pytest
from helpers import run_layer_test
from keras import ops

from tfbig.errors import TfbigError
from tfbig.layers import MultiHeadAttention, apply_rotary, masks
from tfbig.layers.rotary import positions_from, rotate_half
from tfbig.models import GPT, Transformer

HEADS, HEAD_DIM, D_MODEL = 2, 8, 16
RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 5, D_MODEL)).astype("float32")


def numpy_of(x):
    return ops.convert_to_numpy(x)


def numpy_rope(x, positions, base=10000.0):
    """RoPE in float64 through complex numbers: pair ``(x_i, x_{i+d/2})`` is
    ``z_i = x_i + j·x_{i+d/2}``, rotated by multiplying with ``exp(j·m·θ_i)``,
    ``θ_i = base^(-2i/d)``; ``x`` is ``[B, heads, T, d]``, ``positions`` ``[T]`` or ``[B, T]``."""
    x = np.asarray(x, np.float64)
    half = x.shape[-1] // 2
    theta = base ** (-2.0 * np.arange(half) / x.shape[-1])  # (d/2,)
    angles = np.asarray(positions, np.float64)[..., None] * theta  # ([B,] T, d/2)
    if angles.ndim == 3:
        angles = angles[:, None]  # (B, 1, T, d/2)
    z = (x[..., :half] + 1j * x[..., half:]) * np.exp(1j * angles)
    return np.concatenate([z.real, z.imag], axis=-1)


def paper_rotation(position, d, base=10000.0):
    """The paper's ``R^d_{Θ,m}`` (eq. 15): 2×2 rotations of the adjacent pairs (2i, 2i+1)."""
    matrix = np.zeros((d, d))
    for i in range(d // 2):
        angle = position * base ** (-2.0 * i / d)
        c, s = np.cos(angle), np.sin(angle)
        matrix[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, -s], [s, c]]
    return matrix


@pytest.mark.parametrize("positions", [np.arange(5), np.arange(5) + 37,
                                       np.array([[0, 1, 2, 3, 4], [9, 10, 11, 12, 13]])],
                         ids=["from_0", "offset_37", "per_row"])
def test_matches_the_numpy_reference(positions):
    x = RNG.normal(size=(2, HEADS, 5, HEAD_DIM)).astype("float32")
    # float32 cos/sin of angles up to ~13 rad: a few ulps of the angle, times |x| ≲ 4.
    np.testing.assert_allclose(numpy_of(apply_rotary(x, positions)),
                               numpy_rope(x, positions), atol=1e-5)


def test_rotate_half_is_the_papers_rotation_up_to_a_fixed_permutation():
    """Pairs (i, i + d/2) here, adjacent pairs (2i, 2i + 1) in the paper: interleaving the
    halves maps one onto the other, at every position."""
    d = HEAD_DIM
    interleave = np.stack([np.arange(d // 2), np.arange(d // 2) + d // 2], -1).reshape(-1)
    x = RNG.normal(size=(1, 1, 6, d)).astype("float32")
    rotated = numpy_of(apply_rotary(x, np.arange(6)))
    for m in range(6):
        np.testing.assert_allclose(rotated[0, 0, m, interleave],
                                   paper_rotation(m, d) @ x[0, 0, m, interleave], atol=1e-5)


def test_rotate_half_and_position_zero():
    x = np.arange(1.0, 7.0, dtype="float32")[None]
    np.testing.assert_array_equal(numpy_of(rotate_half(x)), [[-4, -5, -6, 1, 2, 3]])
    y = RNG.normal(size=(1, 2, 3, 4)).astype("float32")
    np.testing.assert_array_equal(numpy_of(apply_rotary(y, [0, 0, 0])), y)  # angle 0: as is


def test_rotation_keeps_lengths():
    x = RNG.normal(size=(2, HEADS, 5, HEAD_DIM)).astype("float32")
    np.testing.assert_allclose(np.linalg.norm(numpy_of(apply_rotary(x, np.arange(5) + 100)),
                                              axis=-1),
                               np.linalg.norm(x, axis=-1), rtol=1e-5)


def scores(q, k, positions):
    """``S[m, n] = rope(q, p_m) · rope(k, p_n)`` for one query and one key vector."""
    length = len(positions)
    qs = apply_rotary(np.broadcast_to(q, (1, 1, length, q.size)), positions)
    ks = apply_rotary(np.broadcast_to(k, (1, 1, length, k.size)), positions)
    return numpy_of(ops.matmul(qs, ops.swapaxes(ks, -1, -2)))[0, 0]  # (T, T)


@pytest.mark.parametrize("shift", [1, 7, 100])
def test_scores_depend_only_on_the_offset_between_positions(shift):
    q, k = RNG.normal(size=(2, HEAD_DIM)).astype("float32")
    base = scores(q, k, np.arange(6))
    # Shifting both positions by the same amount leaves every score as it was. float32:
    # the angles (≤ 105 rad) hold ~105·2^-24 of round-off each; |q|·|k| ≲ 10.
    np.testing.assert_allclose(scores(q, k, np.arange(6) + shift), base, atol=1e-4)
    # ... and S[m, n] is a function of m - n: constant along each diagonal (Toeplitz).
    np.testing.assert_allclose(base[1:, 1:], base[:-1, :-1], atol=1e-5)
    # Different offsets give different scores: the position does reach the scores.
    assert np.ptp(base[0]) > 1e-2


def test_positions_from_an_offset():
    np.testing.assert_array_equal(numpy_of(positions_from(3, 4)), [4, 5, 6])
    np.testing.assert_array_equal(numpy_of(positions_from(2)), [0, 1])


@pytest.mark.parametrize("make", [
    lambda: apply_rotary(np.ones((1, 1, 2, 5), "float32"), [0, 1]),
    lambda: MultiHeadAttention(2, 5, rotary=True),
    lambda: Transformer(1, 10, 2, 16, 12, 12, positional="rotary"),
    lambda: GPT(12, 1, 2, 10, 16, positional="rotary"),
], ids=["apply_rotary", "MultiHeadAttention", "Transformer", "GPT"])
def test_odd_head_size_is_rejected(make):
    with pytest.raises(TfbigError, match=r"rotary position embeddings rotate features in "
                                         r"pairs, so the head size must be even; received 5 "
                                         r"\(d_model / num_heads\)"):
        make()


# --- Inside MultiHeadAttention -----------------------------------------------------------

@pytest.fixture(scope="module")
def mha():
    keras.utils.set_random_seed(3)
    layer = MultiHeadAttention(HEADS, HEAD_DIM, rotary=True,
                               kernel_initializer=keras.initializers.RandomNormal(stddev=0.5))
    layer(X)
    return layer


def test_queries_and_keys_are_rotated_after_the_projections(mha):
    """Project, rotate q and k (NumPy reference), attend: the layer's weights and output."""
    def project(dense, x):  # (B, T, d_model) → (B, heads, T, head_dim)
        y = x @ numpy_of(dense.kernel) + numpy_of(dense.bias)
        return y.reshape(2, 5, HEADS, -1).transpose(0, 2, 1, 3)

    q = numpy_rope(project(mha.query_dense, X), np.arange(5))
    k = numpy_rope(project(mha.key_dense, X), np.arange(5))
    v = project(mha.value_dense, X)
    logits = np.where(np.tril(np.ones((5, 5), bool)), q @ k.swapaxes(-1, -2) / np.sqrt(HEAD_DIM),
                      -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)  # (B, h, T, T)
    heads = (weights @ v).transpose(0, 2, 1, 3).reshape(2, 5, -1)
    expected = heads @ numpy_of(mha.output_dense.kernel) + numpy_of(mha.output_dense.bias)
    output, layer_weights = mha(X, attention_mask=masks.causal_mask(5),
                                return_attention_scores=True)
    np.testing.assert_allclose(numpy_of(layer_weights), weights, atol=1e-5)
    np.testing.assert_allclose(numpy_of(output), expected, atol=1e-4)


@pytest.mark.parametrize("form", ["stacked", "pair"])
def test_cached_chunks_are_rotated_by_their_absolute_positions(mha, form):
    """2 tokens, then 1, then 2 through the cache (each rotated from cache_update_index on)
    equal causal attention over the whole sequence; the cache holds the rotated keys."""
    full = numpy_of(mha(X, attention_mask=masks.causal_mask(5)))
    if form == "stacked":
        cache = ops.zeros((2, 2, HEADS, 5, HEAD_DIM))
    else:
        cache = (ops.zeros((2, HEADS, 5, HEAD_DIM)),) * 2
    pieces, start = [], 0
    for size in (2, 1, 2):
        positions = np.arange(size) + start
        slot_mask = positions[:, None] >= np.arange(5)[None]  # (T, T_max): slots ≤ position
        output, cache = mha(X[:, start:start + size], attention_mask=slot_mask[None],
                            cache=cache, cache_update_index=start)
        pieces.append(numpy_of(output))
        start += size
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, atol=1e-5)
    keys = numpy_of(cache[0] if form == "pair" else cache[:, 0])
    np.testing.assert_allclose(keys, numpy_of(mha.project_key_value(X, pair=True)[0]),
                               atol=1e-5)


def test_rotary_flag_is_off_by_default_and_round_trips():
    assert MultiHeadAttention(HEADS, HEAD_DIM).get_config()["rotary"] is False
    config = MultiHeadAttention(HEADS, HEAD_DIM, rotary=True).get_config()
    assert MultiHeadAttention.from_config(config).rotary is True


def test_run_layer_test(tmp_path):
    causal = np.broadcast_to(numpy_of(masks.causal_mask(5)), (2, 5, 5))
    run_layer_test(lambda: MultiHeadAttention(HEADS, HEAD_DIM, rotary=True), (X,),
                   call_kwargs={"attention_mask": causal}, expected_output_shape=X.shape,
                   tmp_dir=tmp_path)
