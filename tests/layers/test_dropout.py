"""tfbig's Dropout: Keras' layer with a half-width random mask, checked against Keras'."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbig.layers.dropout import MASK_LEVELS, Dropout, keep_threshold

N = 1 << 20  # elements per statistical check: the binomial std of a rate is ≤ 0.0005


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.9])
def test_threshold_keeps_one_minus_rate_and_the_scale_is_unbiased(rate):
    threshold, scale = keep_threshold(rate)
    keep = 1 - threshold / MASK_LEVELS
    assert abs(keep - (1 - rate)) <= 0.5 / MASK_LEVELS
    assert keep * scale == pytest.approx(1.0, abs=1e-12)


def test_inference_is_the_identity():
    x = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    np.testing.assert_array_equal(Dropout(0.5)(x, training=False), x)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_keeps_its_inputs_dtype_whatever_its_own_policy(dtype):
    # A mixed-precision model loaded in a float32 process rebuilds its Dropouts with the
    # float32 policy; a cast there would meet a half-precision residual stream.
    x = tf.ones((2, 8), dtype)
    layer = Dropout(0.5, seed=1, dtype="float32")
    assert layer(x, training=False).dtype == dtype
    assert layer(x, training=True).dtype == dtype


@pytest.mark.parametrize("layer_class", [Dropout, keras.layers.Dropout])
@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_drop_fraction_and_mean_match_the_rate_like_keras(layer_class, rate):
    x = np.ones((N // 256, 256), "float32")
    y = np.asarray(layer_class(rate, seed=3)(x, training=True))
    assert abs((y == 0).mean() - rate) < 0.003
    assert abs(y.mean() - 1.0) < 0.01
    kept = y[y != 0]
    np.testing.assert_allclose(kept, kept[0])  # one scale for every kept element
    assert kept[0] == pytest.approx(1 / (1 - rate), rel=1e-4)


def test_the_fast_path_is_taken_and_its_mask_is_not_keras():
    x = np.ones((64, 256), "float32")
    ours = np.asarray(Dropout(0.5, seed=7)(x, training=True))
    theirs = np.asarray(keras.layers.Dropout(0.5, seed=7)(x, training=True))
    assert (ours == 0).any() and not np.array_equal(ours, theirs)


def test_the_two_halves_of_each_random_word_are_independent():
    # Neighbouring elements share a 32-bit word: their drops must not be correlated.
    y = np.asarray(Dropout(0.5, seed=1)(np.ones((N // 256, 256), "float32"), training=True))
    dropped = (y == 0).reshape(-1, 2)
    both = (dropped[:, 0] & dropped[:, 1]).mean()
    assert abs(both - 0.25) < 0.003


def test_seeded_layers_repeat_and_calls_differ():
    x = np.ones((16, 64), "float32")
    a, b = Dropout(0.3, seed=11), Dropout(0.3, seed=11)
    first_a, first_b = np.asarray(a(x, training=True)), np.asarray(b(x, training=True))
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(first_a, np.asarray(a(x, training=True)))  # next call: new mask
    assert not np.array_equal(first_a, np.asarray(Dropout(0.3, seed=12)(x, training=True)))


def test_gradient_is_the_mask():
    x = tf.constant(np.random.default_rng(2).uniform(1, 2, size=(32, 64)).astype("float32"))
    layer = Dropout(0.25, seed=5)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        total = tf.reduce_sum(y)
    gradient = tape.gradient(total, x)
    np.testing.assert_allclose(gradient, np.asarray(y) / np.asarray(x), rtol=1e-6)


def test_odd_width_noise_shape_and_float16_still_drop():
    odd = np.ones((512, 33), "float32")
    assert 0.4 < (np.asarray(Dropout(0.5, seed=1)(odd, training=True)) == 0).mean() < 0.6
    shared = np.asarray(Dropout(0.5, noise_shape=(512, 1), seed=1)(odd, training=True))
    assert ((shared == 0).all(axis=1) | (shared != 0).all(axis=1)).all()
    half = Dropout(0.5, seed=1, dtype="mixed_float16")(np.ones((64, 64), "float16"),
                                                       training=True)
    assert half.dtype == tf.float16 and set(np.unique(np.asarray(half))) == {0.0, 2.0}


def test_inside_a_compiled_function_and_config_round_trip():
    layer = Dropout(0.2, seed=4, name="d")
    y = tf.function(lambda x: layer(x, training=True))(tf.ones((8, 16)))
    assert (np.asarray(y) == 0).any()
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is Dropout and again.get_config() == layer.get_config()
