"""The plateau schedule: the warm-up ramp, cuts when the monitor stalls (also during
warm-up), and counters plus the cut rate surviving an interrupted run."""

import json
import os

import keras
import numpy as np
import pytest

from tfbig.config import TrainConfig
from tfbig.training.plateau import LinearWarmup, ResumableReduceLROnPlateau, plateau_callbacks

X = np.ones((8, 2), "float32")
Y = np.ones((8, 1), "float32")


def tiny_model(learning_rate):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


class RecordRates(keras.callbacks.Callback):
    """The learning rate each train step runs at (read after the callbacks before it)."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


class Monitor(keras.callbacks.Callback):
    """Writes a scripted ``val_score`` into the logs: the stalls are chosen by the test."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_score"] = self.values[epoch]


def test_warmup_ramps_linearly_then_leaves_the_rate_alone():
    model = tiny_model(0.1)
    record = RecordRates()
    model.fit(X, Y, batch_size=2, epochs=2, verbose=0,  # 8 steps
              callbacks=[LinearWarmup(0.1, warmup_steps=5), record])
    np.testing.assert_allclose(record.rates, [0.02, 0.04, 0.06, 0.08, 0.1, 0.1, 0.1, 0.1],
                               rtol=1e-6)


def test_plateau_cuts_the_rate_when_the_monitor_stalls(tmp_path):
    model = tiny_model(0.1)
    plateau = ResumableReduceLROnPlateau(str(tmp_path / "state.json"), monitor="val_score",
                                         mode="max", factor=0.5, patience=2)
    history = model.fit(X, Y, batch_size=8, epochs=6, verbose=0, callbacks=[
        Monitor([0.1, 0.2, 0.2, 0.2, 0.3, 0.3]), plateau])
    # Logged before each epoch-end decision: improves at 0, 1; stalls at 2, 3 → cut after
    # epoch 3; improves at 4; stalls once at 5 (patience 2: no cut yet).
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state == {"best": pytest.approx(0.3), "wait": 1, "cooldown_counter": 0}


def test_a_cut_during_warm_up_scales_the_rest_of_the_ramp(tmp_path):
    model = tiny_model(0.1)
    record = RecordRates()
    plateau = ResumableReduceLROnPlateau(str(tmp_path / "state.json"), monitor="val_score",
                                         mode="max", factor=0.5, patience=1)
    # 2 steps per epoch, warm-up 8 steps; the monitor stalls at epoch 1 → cut.
    model.fit(X, Y, batch_size=4, epochs=4, verbose=0, callbacks=[
        LinearWarmup(0.1, warmup_steps=8), Monitor([0.5, 0.5, 0.9, 0.95]), plateau, record])
    ramp = [0.1 * (step + 1) / 8 for step in range(8)]
    expected = ramp[:4] + [rate * 0.5 for rate in ramp[4:]]
    np.testing.assert_allclose(record.rates, expected, rtol=1e-5)


def test_rate_and_counters_survive_an_interrupted_run(tmp_path):
    backup = str(tmp_path / "backup")
    state = os.path.join(backup, "plateau.json")

    class StopAtEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    def callbacks(*extra):
        # The backup after the cut, as standard_callbacks orders them.
        return [Monitor([0.5] * 5),
                ResumableReduceLROnPlateau(state, monitor="val_score", mode="max",
                                           factor=0.5, patience=1),
                keras.callbacks.BackupAndRestore(backup), *extra]

    model = tiny_model(0.1)
    with pytest.raises(KeyboardInterrupt):  # epoch 0 sets the best, epoch 1 stalls: cut
        model.fit(X, Y, batch_size=8, epochs=5, verbose=0, callbacks=callbacks(StopAtEpoch()))
    assert json.loads(open(state).read()) == {"best": 0.5, "wait": 0, "cooldown_counter": 0}

    resumed = tiny_model(0.1)  # as in a new process: a fresh model at rate 0.1
    history = resumed.fit(X, Y, batch_size=8, epochs=5, verbose=0, callbacks=callbacks())
    # The backup restores the cut rate (0.05, not 0.1) and the counters (epoch 2 is a
    # stall, not a new best): epochs 2, 3, 4 each cut again.
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    assert float(resumed.optimizer.learning_rate) == pytest.approx(0.00625)
    assert not os.path.exists(backup)  # BackupAndRestore removed it, state file included


def test_resumed_warm_up_continues_from_the_restored_rate():
    model = tiny_model(0.1)
    model.fit(X, Y, batch_size=4, epochs=1, verbose=0,
              callbacks=[LinearWarmup(0.1, warmup_steps=8)])  # steps 0, 1
    model.optimizer.learning_rate = 0.5 * 0.1 * 2 / 8  # as if a plateau cut followed
    record = RecordRates()
    model.fit(X, Y, batch_size=4, epochs=1, verbose=0,
              callbacks=[LinearWarmup(0.1, warmup_steps=8), record])  # steps 2, 3
    np.testing.assert_allclose(record.rates, [0.5 * 0.1 * 3 / 8, 0.5 * 0.1 * 4 / 8],
                               rtol=1e-5)


def test_plateau_callbacks_follow_the_config(tmp_path):
    train = TrainConfig(schedule="plateau", learning_rate=3e-4, warmup_steps=10,
                        plateau_patience=3, plateau_factor=0.2)
    warmup, plateau = plateau_callbacks(train, monitor="val_bleu", mode="max",
                                        state_path=str(tmp_path / "s.json"))
    assert (warmup.peak_learning_rate, warmup.warmup_steps) == (3e-4, 10)
    assert (plateau.monitor, plateau.mode, plateau.patience, plateau.factor) == (
        "val_bleu", "max", 3, 0.2)
    no_warmup = TrainConfig(schedule="plateau", warmup_steps=0)
    (only,) = plateau_callbacks(no_warmup, monitor="val_loss", mode="min",
                                state_path=str(tmp_path / "s.json"))
    assert isinstance(only, ResumableReduceLROnPlateau)
