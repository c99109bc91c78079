"""Discriminative learning rates: which multiplier each variable gets, and that one
LayerwiseAdamW step moves each variable by exactly its multiplier × a plain AdamW step —
eagerly and under XLA inside the default tf.distribute strategy, with weight decay on."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import float32_tolerance
from training.test_finetune_methods import INPUTS, LABELS, make_classifier

from tfbig.training.finetune_methods import apply_method
from tfbig.training.fused_adamw import FusedAdamW
from tfbig.training.layerwise_lr import LayerwiseAdamW, layer_lr_multipliers

DECAY = 0.5


def expected_multiplier(path):
    """The documented table, written out from the path: head 1, pooler 1, block k of 3
    DECAY^(3-k), embeddings DECAY^4."""
    parts = path.split("/")
    if parts[1] != "encoder" or parts[2] == "pooler":
        return 1.0
    if parts[2] == "embedding":
        return DECAY ** 4
    block = int(parts[2].removeprefix("block_"))
    return DECAY ** (3 - block)


def test_multipliers_follow_the_documented_table():
    model = make_classifier()
    multipliers = layer_lr_multipliers(model.encoder, DECAY)
    for variable in model.weights:
        assert multipliers.get(variable.path, 1.0) == expected_multiplier(variable.path), \
            variable.path
    # Every backbone stage is listed; the head and the pooler are not (they get 1).
    assert {path.split("/")[2] for path in multipliers} == {"embedding", "block_0",
                                                            "block_1", "block_2"}
    assert layer_lr_multipliers(model.encoder, 1.0) == dict.fromkeys(multipliers, 1.0)


def test_lora_adapters_get_the_rate_of_their_block():
    model = make_classifier()
    apply_method(model.encoder, "lora", lora_rank=2)
    multipliers = layer_lr_multipliers(model.encoder, DECAY)
    adapters = [v.path for v in model.trainable_variables if "lora" in v.path]
    assert adapters
    for path in adapters:
        assert multipliers[path] == expected_multiplier(path), path


OPTIONS = dict(learning_rate=1e-2, weight_decay=0.1, epsilon=1e-12)


def one_step(model, optimizer, mode):
    """``(value before, change)`` of every trainable variable (keyed by its path inside the
    model) after one train step; ``mode`` "eager" runs it eagerly, "xla" XLA-compiles it."""
    model.compile(optimizer=optimizer, run_eagerly=mode == "eager", jit_compile=mode == "xla",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    before = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    model.train_on_batch(INPUTS, LABELS)
    return {v.path.split("/", 1)[1]: (old, keras.ops.convert_to_numpy(v) - old)
            for v, old in zip(model.trainable_variables, before)}


@pytest.fixture(scope="module")
def plain_adamw_step():
    # The plain optimizer tfbig trains with (LayerwiseAdamW's base class). Against Keras'
    # AdamW a few embedding entries whose gradient is rounding noise in the denormal range
    # differ (the fused kernel flushes it to zero); test_fused_adamw compares the two.
    return one_step(make_classifier(), FusedAdamW(**OPTIONS), "eager")


@pytest.mark.parametrize("mode", ["eager", "xla"])
def test_one_step_moves_each_variable_by_its_multiplier(plain_adamw_step, mode):
    # Weight decay on (and excluded from biases/norms), epsilon tiny: Adam's first step is
    # lr·(g/|g| + wd·w) per element, so the whole update scales with the variable's rate.
    with tf.distribute.get_strategy().scope():  # the default strategy, as train uses
        model = make_classifier()
        optimizer = LayerwiseAdamW(layer_lr_multipliers(model.encoder, DECAY), **OPTIONS)
        updates = one_step(model, optimizer, mode)

    checked = set()
    for path, (before, update) in updates.items():
        if path.endswith("key/bias"):
            # Its gradient is 0 in exact arithmetic (softmax ignores a shift shared by all
            # keys); Adam turns the rounding noise, which differs under XLA, into steps.
            continue
        multiplier = expected_multiplier("model/" + path)  # a power of 2: m·u_ref is exact
        _, reference = plain_adamw_step[path]
        # float32: each run rounds w − u to half an ulp of |w − u| (≤ eps·|w|/2 each, ×2 for
        # room where w − u crosses a power of 2), and computes u itself to a few ulps:
        # |u − m·u_ref| ≤ 2·eps·max|w| + 4 ulps of |u|. (Their ratio would blow the rounding
        # up where u is tiny: weight decay alone, on rows no example uses.)
        np.testing.assert_allclose(
            update, multiplier * reference, rtol=float32_tolerance(),
            atol=float32_tolerance(magnitude=np.abs(before).max(), ulps=2), err_msg=path)
        checked.add(multiplier)
    assert checked == {1.0, DECAY, DECAY ** 2, DECAY ** 3, DECAY ** 4}


def test_weight_decay_alone_scales_with_the_multiplier():
    dense = keras.layers.Dense(2, name="dense")
    dense.build((None, 2))
    dense.kernel.assign(np.ones((2, 2), "float32"))
    optimizer = LayerwiseAdamW({"dense/kernel": 0.25}, learning_rate=0.1, weight_decay=0.5)
    optimizer.apply([np.zeros((2, 2), "float32"), np.zeros(2, "float32")],
                    dense.trainable_variables)  # zero gradients: only the decay acts
    # w ← w − lr·m·wd·w = 1 − 0.1 · 0.25 · 0.5
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense.kernel), 1 - 0.0125, rtol=1e-6)


def test_multipliers_can_be_set_after_build_and_round_trip(tmp_path):
    model = make_classifier()
    optimizer = LayerwiseAdamW(learning_rate=1e-3, weight_decay=0.01)
    optimizer.build(model.trainable_variables)
    embedding = model.encoder.embedding.weights[0]
    assert optimizer.multiplier(embedding) == 1.0
    optimizer.lr_multipliers = layer_lr_multipliers(model.encoder, DECAY)
    assert optimizer.multiplier(embedding) == DECAY ** 4

    clone = LayerwiseAdamW.from_config(optimizer.get_config())
    assert clone.lr_multipliers == optimizer.lr_multipliers
    # Saved with a compiled model (.keras) and loaded back by its registered name.
    model.compile(optimizer=optimizer, run_eagerly=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.train_on_batch(INPUTS, LABELS)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, LayerwiseAdamW)
    assert loaded.optimizer.lr_multipliers == optimizer.lr_multipliers
