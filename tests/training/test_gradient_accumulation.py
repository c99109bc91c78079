"""Gradient accumulation (``train.gradient_accumulation_steps``): N batches of B make the
update one batch of N·B would, the schedule counts updates, float16 loss scaling keeps it,
and the key works from ``--set``."""

import types

import keras
import numpy as np
import pytest
from helpers import float32_tolerance
from tasks.task_checks import sample_lines, write_lines

from tfbig.config_fields import TrainConfig
from tfbig.errors import TfbigError
from tfbig.tasks import config_from_flags, resolve_config
from tfbig.training.optimizers import build_optimizer, updates
from tfbig.training.time_budget import TimeBudget

EXAMPLES, MICRO_BATCH, STEPS = 32, 8, 4  # 4 accumulated batches of 8 = one batch of 32


def regression_data(batches=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(EXAMPLES * batches, 5)).astype("float32")
    y = (x @ rng.normal(size=(5, 3)) + 0.5).astype("float32")
    return x, y


def dense_model(seed=1):
    """No dropout, no batch statistics: the gradient of a batch is the mean of its parts'."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="tanh"),
                             keras.layers.Dense(3)])


def trained_weights(optimizer, batch_size, x, y):
    model = dense_model()
    model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return model.get_weights(), model.optimizer


def assert_same_weights(got, expected, updates_done):
    magnitude = max(float(np.abs(w).max()) for w in expected)
    # Each update rounds a sum of 32 gradient terms in another order (4 partial means,
    # then their mean), then Adam divides by the root of the same sum: a few ulps of the
    # weights' size an update (measured: 6e-8 after 3 updates, against a tolerance of
    # 3.6e-6 and weights that moved by 0.08).
    tolerance = float32_tolerance(magnitude, steps=updates_done, ulps=16)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=tolerance)


def test_four_accumulated_sgd_batches_make_the_update_of_one_batch_four_times_larger():
    x, y = regression_data()
    accumulated, optimizer = trained_weights(
        keras.optimizers.SGD(0.1, gradient_accumulation_steps=STEPS), MICRO_BATCH, x, y)
    large, _ = trained_weights(keras.optimizers.SGD(0.1), EXAMPLES, x, y)
    assert int(optimizer.iterations) == 1  # one update from four batches
    assert not np.allclose(accumulated[0], dense_model().get_weights()[0])  # it moved
    assert_same_weights(accumulated, large, updates_done=1)


def test_tfbigs_optimizer_accumulates_with_clipping_decay_and_a_warmup_schedule():
    # Three updates; a global norm clip that bites and a warm-up that changes the rate at
    # every update: if either saw a micro-batch instead of the accumulated mean, or the
    # schedule counted batches, the weights would differ.
    x, y = regression_data(batches=3)
    train = dict(schedule="linear", learning_rate=0.05, warmup_steps=2, clipnorm=0.5,
                 weight_decay=0.1)
    accumulated, optimizer = trained_weights(
        build_optimizer(TrainConfig(**train, gradient_accumulation_steps=STEPS), 16, 3),
        MICRO_BATCH, x, y)
    large, large_optimizer = trained_weights(build_optimizer(TrainConfig(**train), 16, 3),
                                             EXAMPLES, x, y)
    assert optimizer.gradient_accumulation_steps == STEPS
    assert int(optimizer.iterations) == int(large_optimizer.iterations) == 3
    # The rate logged (next update's) is the same: the schedule counts updates.
    assert float(optimizer.learning_rate) == float(large_optimizer.learning_rate)
    assert_same_weights(accumulated, large, updates_done=3)


def test_mixed_float16_accumulates_in_the_inner_optimizer():
    x, y = regression_data()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = dense_model()
        initial = model.get_weights()
        model.compile(optimizer=build_optimizer(
            TrainConfig(gradient_accumulation_steps=2, schedule="constant"), 16, 4),
            loss="mse", jit_compile=False)
        # Keras wraps it for loss scaling; the wrapper itself refuses the argument.
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert model.optimizer.inner_optimizer.gradient_accumulation_steps == 2
        first = model.train_on_batch(x[:8], y[:8])
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), initial))
        second = model.train_on_batch(x[8:16], y[8:16])
        assert not np.array_equal(model.get_weights()[0], initial[0])
        assert np.isfinite(first) and np.isfinite(second)
        assert all(w.dtype == np.float32 for w in model.get_weights())
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_the_time_budget_plans_the_schedule_in_updates():
    plans = []
    budget = TimeBudget(1, 40, lambda message: None, batches_per_update=4,
                        schedule=types.SimpleNamespace(plan=plans.append),
                        clock=iter(np.arange(0, 1000, 0.5)).__next__)
    budget.set_model(types.SimpleNamespace(stop_training=False))
    budget.on_train_begin()
    budget.on_epoch_begin(0)
    for batch in range(TimeBudget.SKIP_STEPS + TimeBudget.TIMED_STEPS):
        budget.on_train_batch_begin(batch)
        budget.on_train_batch_end(batch)
    assert plans == [budget.planned_steps // 4]


def test_updates_count_whole_accumulations():
    assert updates(TrainConfig(gradient_accumulation_steps=4), 10) == 2
    assert updates(TrainConfig(), 10) == 10


def test_the_key_works_from_set_and_bad_values_name_the_field():
    config = config_from_flags(None, {}, ["train.gradient_accumulation_steps=4"])
    assert config.train.gradient_accumulation_steps == 4
    assert config_from_flags(None, {}, []).train.gradient_accumulation_steps == 1
    with pytest.raises(TfbigError, match=r"^config field train\.gradient_accumulation_steps=0: "
                                         r"expected an integer >= 1: the batches whose mean "
                                         r"gradient makes one update \(1 = off\)$"):
        config_from_flags(None, {}, ["train.gradient_accumulation_steps=0"])
    with pytest.raises(TfbigError, match=r"train\.gradient_accumulation_steps=2\.5: expected "
                                         r"an integer"):
        config_from_flags(None, {}, ["train.gradient_accumulation_steps=2.5"])


class OptimizerSteps(keras.callbacks.Callback):
    """Records the optimizer's update count and batch count when training ends."""

    def on_train_end(self, logs=None):
        optimizer = self.model.optimizer
        self.updates = int(optimizer.iterations)
        self.batches = int(optimizer._iterations)


@pytest.mark.slow
def test_a_run_accumulates_and_says_its_effective_batch(tmp_path, capsys):
    from tfbig.runs.fit import train

    data = write_lines(tmp_path / "reviews.tsv", sample_lines("reviews.tsv", 120))
    overrides = {"task": "classify", "data.path": data, "model.preset": "tiny",
                 "train.batch_size": 8, "train.steps_per_epoch": 4, "train.epochs": 1,
                 "train.jit_compile": False, "train.epoch_metrics_examples": 0,
                 "train.gradient_accumulation_steps": 2}
    steps = OptimizerSteps()
    train(resolve_config(overrides), str(tmp_path / "run"), verbose=0, callbacks=[steps])
    assert (steps.batches, steps.updates) == (4, 2)
    assert "global batch 8; 2 batches an update: effective batch 16" in capsys.readouterr().err
    with pytest.raises(TfbigError, match=r"^train\.gradient_accumulation_steps=8 is more than "
                                         r"the 4 train batches of the whole run, so no update "
                                         r"would happen; lower it or train more steps$"):
        train(resolve_config({**overrides, "train.gradient_accumulation_steps": 8}),
              str(tmp_path / "run2"), verbose=0)
