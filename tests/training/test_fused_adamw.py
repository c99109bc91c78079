"""FusedAdamW against keras.optimizers.AdamW: the same weights, step after step."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbig.training.fused_adamw import FusedAdamW

OPTIONS = dict(learning_rate=0.01, weight_decay=0.05, beta_1=0.9, beta_2=0.98, epsilon=1e-9,
               global_clipnorm=1.0)


def train_a_little(optimizer_class, steps=5, **options):
    """A small model with an embedding (IndexedSlices gradient), biases and a layer norm."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 8),
                              keras.layers.LayerNormalization(), keras.layers.Flatten(),
                              keras.layers.Dense(3)])
    optimizer = optimizer_class(**{**OPTIONS, **options})
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    x = np.random.default_rng(1).integers(0, 20, (16, 6))
    y = np.random.default_rng(2).integers(0, 3, (16,))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        gradients = tape.gradient(value, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)

    for _ in range(steps):
        step()
    return [np.asarray(v) for v in model.trainable_variables], optimizer


@pytest.mark.parametrize("global_clipnorm", [1.0, 1e-3], ids=["clip-1", "clip-1e-3"])
def test_same_weights_as_keras_adamw_with_decay_clipping_and_an_embedding(global_clipnorm):
    # 1e-3 is far below these gradients' norm: the clipped path is the one compared there.
    ours, optimizer = train_a_little(FusedAdamW, global_clipnorm=global_clipnorm)
    theirs, _ = train_a_little(keras.optimizers.AdamW, global_clipnorm=global_clipnorm)
    assert int(optimizer.iterations) == 5
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours[0], train_a_little(FusedAdamW, steps=0)[0][0])  # it moved


def test_amsgrad_takes_keras_own_step():
    ours, _ = train_a_little(FusedAdamW, amsgrad=True)
    theirs, _ = train_a_little(keras.optimizers.AdamW, amsgrad=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_config_round_trip():
    optimizer = FusedAdamW(**OPTIONS)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is FusedAdamW and again.get_config() == optimizer.get_config()


MIRRORED = textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfbig.training.fused_adamw import FusedAdamW
    x = np.random.default_rng(1).normal(size=(32, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
    weights = []
    for optimizer_class in (FusedAdamW, keras.optimizers.AdamW):
        with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
            model.compile(optimizer_class(learning_rate=0.05, weight_decay=0.01), "mse")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    print("same weights on 2 replicas")
""")


@pytest.mark.slow
def test_same_weights_as_keras_under_mirrored_strategy():
    result = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "same weights on 2 replicas" in result.stdout
