"""tfbig's Dense: Keras' layer with the weight gradient on XLA, checked against Keras'."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbig.layers import dense as dense_module
from tfbig.layers.dense import Dense, dense_with_xla_weight_gradient, weight_gradient_on_xla


def twin_layers(units, input_shape, **kwargs):
    """A tfbig Dense and a keras Dense with the same (non-zero bias) weights."""
    ours, theirs = Dense(units, **kwargs), keras.layers.Dense(units, **kwargs)
    ours.build(input_shape)
    theirs.build(input_shape)
    rng = np.random.default_rng(0)
    for mine, other in zip(ours.weights, theirs.weights):
        value = rng.normal(size=mine.shape).astype("float32")
        mine.assign(value)
        other.assign(value)
    return ours, theirs


def loss_and_gradients(layer, x, training=True):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        # A loss whose gradient differs per output unit and per row.
        weights = tf.reshape(tf.range(tf.size(y), dtype=tf.float32) % 7 - 3, tf.shape(y))
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * weights)
    return y, tape.gradient(loss, [x] + layer.trainable_weights)


def assert_same(ours, theirs):
    (y1, grads1), (y2, grads2) = ours, theirs
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
    assert len(grads1) == len(grads2)
    for g1, g2 in zip(grads1, grads2):
        scale = float(np.abs(g2).max()) or 1.0
        np.testing.assert_allclose(np.asarray(g1) / scale, np.asarray(g2) / scale, atol=1e-5)


def test_this_machine_takes_the_xla_path():
    # The suite runs on x86-64 CPUs, where import tfbig turns oneDNN on: the path under test.
    assert weight_gradient_on_xla()


@pytest.mark.parametrize("use_bias, activation", [(True, "relu"), (False, None),
                                                  (True, "gelu")])
def test_outputs_and_every_gradient_match_keras_dense(use_bias, activation):
    ours, theirs = twin_layers(48, (4, 10, 32), use_bias=use_bias, activation=activation)
    x = np.random.default_rng(1).normal(size=(4, 10, 32)).astype("float32")
    step = tf.function(loss_and_gradients)  # as in model.fit: a graph
    assert_same(step(ours, x), loss_and_gradients(theirs, x))
    assert_same(loss_and_gradients(ours, x), loss_and_gradients(theirs, x))  # eagerly too


def test_the_weight_gradient_really_comes_from_the_xla_function(monkeypatch):
    calls = []
    real = dense_module._xla_weight_gradient()
    monkeypatch.setattr(dense_module, "_xla_weight_gradient",
                        lambda: (lambda x, g: calls.append(x.shape) or real(x, g)))
    ours, _ = twin_layers(8, (6, 5))
    loss_and_gradients(ours, np.ones((6, 5), "float32"))
    assert calls == [(6, 5)]
    loss_and_gradients(ours, np.ones((6, 5), "float32"), training=False)  # Keras' own path
    assert calls == [(6, 5)]


def test_two_dimensional_inputs_and_a_dynamic_batch():
    ours, theirs = twin_layers(16, (None, 12))
    step = tf.function(loss_and_gradients, reduce_retracing=True)
    for rows in (3, 7, 5):  # relaxed to an unknown batch after the first shapes
        x = np.random.default_rng(rows).normal(size=(rows, 12)).astype("float32")
        assert_same(step(ours, x), loss_and_gradients(theirs, x))


def test_lora_adapters_get_keras_gradients():
    ours, theirs = twin_layers(20, (3, 16))
    for layer in (ours, theirs):
        layer.enable_lora(4, b_initializer="ones")  # non-zero B: A's gradient is non-zero
    for mine, other in zip(ours.trainable_weights, theirs.trainable_weights):
        mine.assign(other)
    assert [w.path.split("/")[-1] for w in ours.trainable_weights] == [
        "bias", "lora_kernel_a", "lora_kernel_b"]
    x = np.random.default_rng(3).normal(size=(3, 16)).astype("float32")
    assert_same(loss_and_gradients(ours, x), loss_and_gradients(theirs, x))


def test_mixed_precision_keeps_keras_path():
    ours = Dense(8, dtype="mixed_bfloat16")
    y, gradients = loss_and_gradients(ours, np.ones((2, 4), "float32"))
    assert y.dtype == tf.bfloat16 and all(g is not None for g in gradients)


def test_function_level_gradients_against_numpy():
    rng = np.random.default_rng(4)
    x, kernel, bias = (rng.normal(size=s).astype("float32") for s in ((2, 3, 5), (5, 4), (4,)))
    upstream = rng.normal(size=(2, 3, 4)).astype("float32")
    tensors = [tf.constant(v) for v in (x, kernel, bias)]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        y = dense_with_xla_weight_gradient(*tensors)
    dx, dkernel, dbias = tape.gradient(y, tensors, output_gradients=tf.constant(upstream))
    np.testing.assert_allclose(y, x @ kernel + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, upstream @ kernel.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dkernel, x.reshape(-1, 5).T @ upstream.reshape(-1, 4),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dbias, upstream.sum(axis=(0, 1)), rtol=1e-5, atol=1e-5)


def test_saves_and_loads_as_keras_file(tmp_path):
    inputs = keras.Input((6,))
    model = keras.Model(inputs, Dense(3, activation="relu", name="head")(inputs))
    path = tmp_path / "dense.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.get_layer("head")) is Dense
    x = np.random.default_rng(5).normal(size=(4, 6)).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
