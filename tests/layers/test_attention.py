"""Scaled dot-product attention against a NumPy reference of the paper's formula."""

import numpy as np
import pytest
from keras import ops

from tfbig.layers import attention_weights, masks, scaled_dot_product_attention


def numpy_attention(q, k, v, mask=None):
    """``softmax(Q Kᵀ / √d_k) V`` in float64, masked keys removed before the softmax."""
    q, k, v = (np.asarray(a, "float64") for a in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(np.asarray(mask, bool), scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights


@pytest.fixture(scope="module")
def qkv():
    rng = np.random.default_rng(0)
    # (batch=2, heads=3, T, d): a leading batch + heads shape, T_q=4, T_k=5, d_k=8, d_v=6.
    return (rng.normal(size=(2, 3, 4, 8)).astype("float32"),
            rng.normal(size=(2, 3, 5, 8)).astype("float32"),
            rng.normal(size=(2, 3, 5, 6)).astype("float32"))


def padding(t_k=5):
    ids = np.array([[7, 8, 9, 0, 0], [4, 5, 6, 7, 0]])[:, :t_k]
    return ops.convert_to_numpy(masks.key_padding_mask(ids))[:, None]  # (B, 1, 1, T_k)


def check(q, k, v, mask):
    output, weights = scaled_dot_product_attention(q, k, v, mask)
    expected_output, expected_weights = numpy_attention(q, k, v, mask)
    assert tuple(output.shape) == expected_output.shape
    assert tuple(weights.shape) == expected_weights.shape
    np.testing.assert_allclose(ops.convert_to_numpy(weights), expected_weights, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(output), expected_output, atol=1e-5)
    return ops.convert_to_numpy(weights)


def test_matches_numpy_without_mask(qkv):
    check(*qkv, mask=None)


def test_matches_numpy_with_padding_mask(qkv):
    weights = check(*qkv, mask=padding())
    np.testing.assert_array_equal(weights[0, :, :, 3:], 0.0)  # masked keys: exactly 0
    np.testing.assert_array_equal(weights[1, :, :, 4:], 0.0)


def test_matches_numpy_with_causal_mask():
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(2, 3, 5, 8)).astype("float32") for _ in range(3))
    mask = ops.convert_to_numpy(masks.causal_mask(5))  # (T, T), broadcast over batch, heads
    weights = check(q, k, v, mask)
    upper = np.triu(np.ones((5, 5), bool), k=1)
    assert np.all(weights[..., upper] == 0.0)


def test_matches_numpy_with_causal_and_padding_mask():
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(2, 3, 5, 4)).astype("float32") for _ in range(3))
    ids = np.array([[7, 8, 9, 0, 0], [4, 5, 6, 7, 1]])
    mask = ops.convert_to_numpy(masks.decoder_self_attention_mask(ids))[:, None]
    check(q, k, v, mask)


def test_integer_mask_is_accepted(qkv):
    check(*qkv, mask=padding().astype("int32"))


def test_rows_of_weights_sum_to_one(qkv):
    for mask in (None, padding()):
        weights = ops.convert_to_numpy(attention_weights(qkv[0], qkv[1], mask))
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
        assert weights.dtype == np.float32


def test_float16_with_mask_stays_finite(qkv):
    q, k, v = (x.astype("float16") * 30 for x in qkv)  # large scores: exp() overflows fp16
    output, weights = scaled_dot_product_attention(q, k, v, padding())
    output, weights = ops.convert_to_numpy(output), ops.convert_to_numpy(weights)
    assert output.dtype == np.float16
    assert np.all(np.isfinite(output)) and np.all(np.isfinite(weights))
    np.testing.assert_array_equal(weights[0, :, :, 3:], 0.0)
    np.testing.assert_allclose(weights.astype("float32").sum(-1), 1.0, atol=2e-3)


def test_fully_masked_row_gives_no_nan(qkv):
    mask = np.zeros((1, 1, 1, 5), bool)  # nothing to attend to: defined, finite output
    output, weights = scaled_dot_product_attention(*qkv, mask)
    assert np.all(np.isfinite(ops.convert_to_numpy(output)))
    assert np.all(np.isfinite(ops.convert_to_numpy(weights)))


@pytest.mark.filterwarnings("error")
def test_one_key_takes_all_the_weight_without_a_warning(qkv):
    """A single key (a one-token sequence, the first generated token): weight exactly 1,
    masked or not, as the softmax of one score; no Keras warning about a softmax over an
    axis of size 1; the weights still pass a (zero) gradient to the queries and keys."""
    import tensorflow as tf

    q, k, v = qkv
    k, v = k[:, :, :1], v[:, :, :1]
    check(q, k, v, None)
    for mask in (np.ones((1, 1, 1, 1), bool), np.zeros((1, 1, 1, 1), bool)):
        output, weights = scaled_dot_product_attention(q, k, v, mask)
        np.testing.assert_array_equal(ops.convert_to_numpy(weights), 1.0)
        np.testing.assert_allclose(ops.convert_to_numpy(output),
                                   np.broadcast_to(v, output.shape), atol=1e-6)
    q = tf.Variable(q)
    with tf.GradientTape() as tape:
        weights = attention_weights(q, k)
    gradient = tape.gradient(weights, q)
    assert gradient is not None and not np.any(ops.convert_to_numpy(gradient))
