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


@pytest.mark.parametrize("monitor, mode, logged, worse, better", [
    ("val_loss", "min", ["0.5", "0.3", "0.4"], 0.35, 0.25),
    ("val_bleu", "max", ["10.0", "", "30.0"], 20.0, 31.0),  # an epoch without the metric
])
def test_a_resumed_run_keeps_its_best_checkpoint_until_a_better_epoch(
        tmp_path, monitor, mode, logged, worse, better):
    """An interrupted run logged three epochs; its best checkpoint holds the best of them.
    After a resume, an epoch worse than that best must not replace it (it did: Keras'
    ModelCheckpoint starts with no best value)."""
    with open(tmp_path / "history.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", monitor])
        writer.writerows([epoch, value] for epoch, value in enumerate(logged))
    best = next(c for c in standard_callbacks(str(tmp_path), monitor=monitor, mode=mode)
                if isinstance(c, keras.callbacks.ModelCheckpoint) and c.save_best_only)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    best.set_model(model)
    path = tmp_path / "checkpoints" / "best.weights.h5"
    best.on_epoch_end(3, logs={monitor: worse})
    assert not path.exists()
    best.on_epoch_end(4, logs={monitor: better})
    assert path.exists()


def test_a_new_run_has_no_best_value_yet(tmp_path):
    from tfbig.training.callbacks import best_in_history

    assert best_in_history(str(tmp_path), "val_loss", "min") is None  # no history.csv
    (tmp_path / "history.csv").write_text("epoch,val_loss\n0,\n", encoding="utf-8")
    assert best_in_history(str(tmp_path), "val_loss", "min") is None  # no value logged
