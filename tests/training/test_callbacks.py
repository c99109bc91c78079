"""The learning-rate logger (values = the schedule's, in History and history.csv) and the
order of a run's callbacks: whatever adds to the epoch logs comes before what reads them."""

import csv

import keras
import numpy as np
import pytest

from tfbig.training.callbacks import LearningRateLogger, standard_callbacks
from tfbig.training.schedules import WarmupDecaySchedule


def test_logged_rates_are_the_schedule_at_each_epoch_end(tmp_path):
    schedule = WarmupDecaySchedule(1e-2, warmup_steps=3, total_steps=20)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(schedule), loss="mse")
    history_path = str(tmp_path / "history.csv")
    history = model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, epochs=3, verbose=0,
                        callbacks=[LearningRateLogger(), keras.callbacks.CSVLogger(history_path)])
    # 4 steps per epoch: at the end of epoch e the optimizer has made 4·(e + 1) steps.
    expected = [float(schedule(4 * (epoch + 1))) for epoch in range(3)]
    assert history.history["learning_rate"] == pytest.approx(expected)
    with open(history_path) as f:
        logged = [float(row["learning_rate"]) for row in csv.DictReader(f)]
    assert logged == pytest.approx(expected)
    assert expected[0] > expected[1] > expected[2] > 0  # it does decay


def test_writers_come_before_every_reader(tmp_path):
    writer = keras.callbacks.LambdaCallback()
    callbacks = standard_callbacks(str(tmp_path), monitor="val_bleu", mode="max",
                                   early_stopping_patience=2, log_writers=[writer])
    kinds = [type(callback) for callback in callbacks]
    readers = [kinds.index(kind) for kind in (
        keras.callbacks.ModelCheckpoint, keras.callbacks.CSVLogger,
        keras.callbacks.TensorBoard, keras.callbacks.EarlyStopping)]
    assert kinds.index(LearningRateLogger) < callbacks.index(writer) < min(readers)
    # A plateau cut made by a writer is saved by the backup of the same epoch.
    assert callbacks.index(writer) < kinds.index(keras.callbacks.BackupAndRestore)
    monitored = [c for c in callbacks if isinstance(c, (keras.callbacks.ModelCheckpoint,
                                                        keras.callbacks.EarlyStopping))]
    assert {c.monitor for c in monitored if c.monitor != "val_loss"} == {"val_bleu"}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_estimate_after_the_first_epoch_leaves_out_its_tracing(monkeypatch):
    """Train steps of 0.5 s (the first 3 s: tracing), validation steps of 0.2 s (the first
    2 s), 0.9 s of epoch-end work: epoch 1 takes 11 s, the others about 11 - 2.5 - 1.8."""
    from tfbig.training import time_estimate

    clock, logged = FakeClock(), []
    monkeypatch.setattr(time_estimate.time, "perf_counter", clock)
    estimate = time_estimate.TimeEstimate(10, 4, logged.append, mid_epoch=True)
    estimate.on_epoch_begin(0)
    for batch in range(10):
        estimate.on_train_batch_begin(batch)
        clock.now += 3.0 if batch == 0 else 0.5
        estimate.on_train_batch_end(batch)
    estimate.on_test_begin()
    for batch in range(4):
        clock.now += 2.0 if batch == 0 else 0.2
        estimate.on_test_batch_end(batch)
    clock.now += 0.9
    estimate.on_epoch_end(0)
    assert logged == []  # not before Keras' own line for the epoch
    estimate.on_epoch_begin(1)
    assert logged == ["time: epoch 1 took 11 s (4.3 s of it tracing); the other 3 should "
                      "take about 6.7 s each, about 20 s in all"]
    estimate.on_epoch_end(1)
    estimate.on_epoch_begin(2)
    assert len(logged) == 1  # once


def test_time_estimate_of_a_long_epoch_comes_once_a_few_steps_are_timed(monkeypatch):
    from tfbig.training import time_estimate

    clock, logged = FakeClock(), []
    monkeypatch.setattr(time_estimate.time, "perf_counter", clock)
    for mid_epoch in (False, True):  # False: a progress bar (it shows the epoch's ETA)
        estimate = time_estimate.TimeEstimate(1000, 3, logged.append, mid_epoch=mid_epoch)
        estimate.on_epoch_begin(0)
        for batch in range(30):
            estimate.on_train_batch_begin(batch)
            clock.now += 3.0 if batch == 0 else 0.5
            estimate.on_train_batch_end(batch)
    # 10 steps after the first: 5 s of them, enough to say.
    assert logged == ["time: about 0.5 s a step: about 8 min 20 s an epoch of 1000 steps "
                      "(plus validation), about 25 min for 3 epochs"]
    estimate.on_epoch_end(0)
    estimate.on_epoch_begin(1)
    assert len(logged) == 1


@pytest.mark.parametrize("seconds, text", [(0.04, "0.0 s"), (4.94, "4.9 s"), (59.4, "59 s"),
                                           (130, "2 min 10 s"), (725, "12 min"),
                                           (3600 + 5 * 60 + 10, "1 h 05 min")])
def test_durations_read_naturally(seconds, text):
    from tfbig.training.time_estimate import format_duration

    assert format_duration(seconds) == text
