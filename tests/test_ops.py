"""tfbig.ops.argmax: the same answer as keras.ops.argmax / NumPy, without the extra passes."""

import numpy as np
import tensorflow as tf
from keras import ops

from tfbig.ops import argmax


def test_matches_numpy_and_keras_on_logits():
    logits = np.random.default_rng(0).normal(size=(4, 7, 50)).astype("float32")
    result = argmax(logits)
    assert result.dtype == tf.int32
    np.testing.assert_array_equal(result, np.argmax(logits, axis=-1))
    np.testing.assert_array_equal(result, ops.argmax(logits, axis=-1))


def test_ties_pick_the_first_index_and_other_axes_work():
    x = np.array([[0.0, 3.0, 3.0], [-1.0, -1.0, -2.0]], "float32")
    np.testing.assert_array_equal(argmax(x), [1, 0])
    np.testing.assert_array_equal(argmax(x, axis=0), [0, 0, 0])


def test_inside_a_tf_function():
    logits = np.random.default_rng(1).normal(size=(3, 9)).astype("float32")
    np.testing.assert_array_equal(tf.function(argmax)(logits), np.argmax(logits, axis=-1))
