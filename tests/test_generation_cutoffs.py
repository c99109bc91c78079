"""Sort-free top-k / top-p cut-offs (tfbig.generation.cutoffs) against sorting in NumPy,
eagerly and under XLA."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from tfbig.generation import cutoffs


def sorted_top_k_mask(logits, k):
    kth = -np.sort(-logits, axis=-1)[:, k - 1:k]
    return logits >= kth


def sorted_top_p_mask(logits, p):
    """The nucleus as the sort-based path defines it, in float64."""
    descending = -np.sort(-logits.astype(np.float64), axis=-1)
    probabilities = np.exp(descending - descending[:, :1])
    cumulative = np.cumsum(probabilities / probabilities.sum(-1, keepdims=True), axis=-1)
    index = np.minimum((cumulative < p).sum(-1, keepdims=True), logits.shape[1] - 1)
    return logits >= np.take_along_axis(descending, index, axis=-1)


def test_sortable_keys_order_like_the_floats():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 500), rng.normal(0, 1e-30, 50), rng.normal(0, 1e30, 50),
                        [0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 3.4e38, -3.4e38]])
    x = x.astype("float32")
    keys = np.asarray(cutoffs.sortable_keys(x))
    for a in range(0, len(x), 7):  # every pair's order agrees (sampled rows of the matrix)
        np.testing.assert_array_equal(keys[a] < keys, x[a] < x)
        np.testing.assert_array_equal(keys[a] == keys, x[a] == x)  # -0.0 == 0.0


@pytest.fixture(scope="module")
def logits():
    rng = np.random.default_rng(1)
    smooth = rng.normal(0, 3, (6, 257)).astype("float32")
    ties = rng.integers(-4, 5, (4, 257)).astype("float32")  # many equal logits per row
    return np.concatenate([smooth, ties])


@pytest.mark.parametrize("k", [1, 2, 17, 256, 257])
def test_top_k_mask_is_the_sorted_one(logits, k):
    np.testing.assert_array_equal(np.asarray(cutoffs.top_k_mask(logits, k)),
                                  sorted_top_k_mask(logits, k))


@pytest.mark.parametrize("p", [1e-6, 0.3, 0.9, 0.999])
def test_top_p_mask_is_the_sorted_one(logits, p):
    mask = np.asarray(cutoffs.top_p_mask(logits, p))
    np.testing.assert_array_equal(mask, sorted_top_p_mask(logits, p))
    assert mask.sum(-1).min() >= 1  # the most likely token is always kept


def test_masks_under_xla_are_the_sorted_ones_too(logits):
    compiled = tf.function(lambda x: (cutoffs.top_k_mask(x, 17), cutoffs.top_p_mask(x, 0.9)),
                           jit_compile=True)
    top_k, top_p = compiled(ops.convert_to_tensor(logits))
    np.testing.assert_array_equal(np.asarray(top_k), sorted_top_k_mask(logits, 17))
    np.testing.assert_array_equal(np.asarray(top_p), sorted_top_p_mask(logits, 0.9))
