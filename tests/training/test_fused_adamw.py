"""FusedAdamW against keras.optimizers.AdamW: the same weights, step after step."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import float32_tolerance

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


def assert_same_weights(ours, theirs, steps, learning_rate, beta_1, beta_2):
    """Equal up to what float32 round-off explains after ``steps`` Adam steps (derived, not
    measured: a wrong formula, e.g. no amsgrad, decay or clipping, or ε = 1e-7 for 1e-9, is
    off by ≥ 1e-4 in ``train_a_little``, where this allows ≈ 2.5e-6).

    1. Each step rounds every weight and its update to a few ulps of the largest weight
       (every gradient depends on every weight), in another order in each (other kernels,
       oneDNN's where the CPU has AVX-512): ``float32_tolerance(max|w|, steps)``.
    2. TensorFlow's fused kernel forms ``1 − β₂`` in float32 where Keras rounds float64's:
       ``v`` is off by a relative ``δ`` (1.3e-5 for β₂ = 0.999), so each step
       ``lr·m̂/√v̂`` by ``δ/2``, with ``|m̂/√v̂| ≤ √Σ wᵢ²/uᵢ`` (Cauchy–Schwarz; ``wᵢ``, ``uᵢ``
       the weights of the i-th last gradient in ``m̂`` and ``v̂``; ≈ 1 for a few steps).
    """
    tolerance = float32_tolerance(magnitude=max(np.abs(w).max() for w in theirs), steps=steps)
    keras_1_minus_beta_2 = float(np.float32(1 - beta_2))
    kernel_1_minus_beta_2 = 1 - float(np.float32(beta_2))  # exact in float32 (Sterbenz)
    delta = abs(kernel_1_minus_beta_2 / keras_1_minus_beta_2 - 1)
    for t in range(1, steps + 1):
        age = np.arange(t)
        w = (1 - beta_1) * beta_1 ** age / (1 - beta_1 ** t)
        u = (1 - beta_2) * beta_2 ** age / (1 - beta_2 ** t)
        tolerance += learning_rate * np.sqrt(np.sum(w ** 2 / u)) * delta / 2
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=tolerance)


def assert_same_as_train_a_little(ours, theirs):
    assert_same_weights(ours, theirs, steps=5, learning_rate=OPTIONS["learning_rate"],
                        beta_1=OPTIONS["beta_1"], beta_2=OPTIONS["beta_2"])


@pytest.mark.parametrize("global_clipnorm", [1.0, 1e-3], ids=["clip-1", "clip-1e-3"])
def test_same_weights_as_keras_adamw_with_decay_clipping_and_an_embedding(global_clipnorm):
    # 1e-3 is far below these gradients' norm: the clipped path is the one compared there.
    ours, optimizer = train_a_little(FusedAdamW, global_clipnorm=global_clipnorm)
    theirs, _ = train_a_little(keras.optimizers.AdamW, global_clipnorm=global_clipnorm)
    assert int(optimizer.iterations) == 5
    assert_same_as_train_a_little(ours, theirs)
    assert not np.allclose(ours[0], train_a_little(FusedAdamW, steps=0)[0][0])  # it moved


def test_amsgrad_takes_keras_own_step():
    ours, _ = train_a_little(FusedAdamW, amsgrad=True)
    theirs, _ = train_a_little(keras.optimizers.AdamW, amsgrad=True)
    assert_same_as_train_a_little(ours, theirs)


def test_config_round_trip():
    optimizer = FusedAdamW(**OPTIONS)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is FusedAdamW and again.get_config() == optimizer.get_config()


# Two logical CPUs and a linear-regression batch, in a process of its own (the CPU must be
# split before TensorFlow sets up its devices); one process for every run below, as
# TensorFlow's start-up is most of its time. One MirroredStrategy, reused, as tfbig does.
MIRRORED = textwrap.dedent("""
    import sys
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfbig.training.fused_adamw import FusedAdamW
    x = np.random.default_rng(1).normal(size=(32, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    runs = {}

    def fit_dense(name, strategy, make_optimizer):  # 8 steps of batch 8
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
            model.compile(make_optimizer(), "mse")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        runs.update({f"{name}/{i}": w for i, w in enumerate(model.get_weights())})

    for name, optimizer_class in (("fused", FusedAdamW), ("keras", keras.optimizers.AdamW)):
        fit_dense(name, mirrored, lambda: optimizer_class(learning_rate=0.05, weight_decay=0.01))
    # A clip far below the gradient norm (≈ 7 here): every step is clipped.
    for name, clipped in (
            ("fused", lambda: FusedAdamW(learning_rate=0.05, weight_decay=0.0,
                                         global_clipnorm=0.5)),
            ("sgd", lambda: keras.optimizers.SGD(0.1, global_clipnorm=0.5))):
        fit_dense(f"clipped-{name}-mirrored", mirrored, clipped)
        fit_dense(f"clipped-{name}-single", tf.distribute.get_strategy(), clipped)
    np.savez(sys.argv[1], **runs)
    print("trained on 2 replicas and on 1")
""")


@pytest.mark.slow
def test_same_weights_as_keras_and_a_clip_of_the_summed_gradient_under_mirrored_strategy(
        tmp_path):
    """On two replicas, FusedAdamW ends with Keras' AdamW's weights. And two replicas at
    global batch 8 take the same steps as one device at batch 8, clip included: the clip
    applies to the batch's gradient (summed over replicas), not to each replica's half of
    it, which Keras' own order does (its SGD, run beside, differs)."""
    path = tmp_path / "weights.npz"
    result = subprocess.run([sys.executable, "-c", MIRRORED, str(path)], capture_output=True,
                            text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained on 2 replicas and on 1" in result.stdout
    with np.load(path) as saved:  # "<run>/<i>": the run's i-th weight (a Dense: kernel, bias)
        runs = {name: [saved[f"{name}/{i}"] for i in range(2)]
                for name in {key.split("/")[0] for key in saved.files}}
    # 32 examples in batches of 8 for 2 epochs: 8 steps, at Keras' default betas.
    assert_same_weights(runs["fused"], runs["keras"], steps=8, learning_rate=0.05, beta_1=0.9,
                        beta_2=0.999)

    for a, b in zip(runs["clipped-fused-mirrored"], runs["clipped-fused-single"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The reference: Keras' own optimizer clips each replica's share, so its two runs part.
    assert not all(np.allclose(a, b, rtol=1e-3, atol=1e-4) for a, b in
                   zip(runs["clipped-sgd-mirrored"], runs["clipped-sgd-single"]))
