"""The Keras callbacks every tfbig training run uses, and two of tfbig's own.

Where Keras has a callback, it is used as is: ModelCheckpoint (best and last),
BackupAndRestore (a killed run resumes from its last finished epoch), TensorBoard,
CSVLogger (history.csv), TerminateOnNaN, EarlyStopping.
"""

import os
import time

import keras


class ThroughputLogger(keras.callbacks.Callback):
    """Adds ``tokens_per_second`` to each epoch's logs (train steps only, not validation).

    Args:
        tokens_per_step: tokens one train step processes (batch × sequence positions).
    """

    def __init__(self, tokens_per_step):
        super().__init__()
        self.tokens_per_step = tokens_per_step
        self.epoch_rates = []

    def on_epoch_begin(self, epoch, logs=None):
        self._steps = 0
        self._start = None

    def on_train_batch_begin(self, batch, logs=None):
        if self._start is None:
            self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._start is None or self._steps < 2:
            return
        # From the first train step's start to the last one's end: validation excluded.
        rate = self.tokens_per_step * self._steps / max(self._end - self._start, 1e-9)
        self.epoch_rates.append(rate)
        if logs is not None:
            logs["tokens_per_second"] = rate

    @property
    def steady_rate(self):
        """Tokens/s of the epochs after the first (which includes compilation), if any."""
        rates = self.epoch_rates[1:] or self.epoch_rates
        return sum(rates) / len(rates) if rates else 0.0


def standard_callbacks(run_dir, *, monitor="val_loss", mode="min",
                       early_stopping_patience=0):
    """The callbacks of a run folder (paths as in ../shared/CONTRACT.md)."""
    checkpoints = os.path.join(run_dir, "checkpoints")
    os.makedirs(checkpoints, exist_ok=True)
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, "best.weights.h5"), monitor=monitor, mode=mode,
            save_best_only=True, save_weights_only=True),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, "last.weights.h5"), save_weights_only=True),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")),
    ]
    if early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=early_stopping_patience,
            restore_best_weights=True))
    return callbacks
