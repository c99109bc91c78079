"""The Keras callbacks every tfbig training run uses, and tfbig's own loggers.

Where Keras has a callback, it is used as is: ModelCheckpoint (best and last),
BackupAndRestore (a killed run resumes from its last finished epoch), TensorBoard,
CSVLogger (history.csv), TerminateOnNaN, EarlyStopping, ReduceLROnPlateau.

Order matters at epoch end: Keras calls the callbacks in list order with one shared
``logs`` dict, so a callback that *adds* a value (the learning rate, ``val_bleu``) must
come before the ones that *read* it (ModelCheckpoint and EarlyStopping on the monitor,
CSVLogger, TensorBoard), and a callback that changes training state (a plateau cut of the
learning rate) before BackupAndRestore saves it. ``standard_callbacks`` puts the writers
first.
"""

import csv
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
        # ``batch`` is the last step's index: with steps_per_execution k, Keras calls this
        # once per k steps.
        self._steps = batch + 1
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


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's learning rate at each epoch end to ``logs["learning_rate"]``,
    so ``history.csv``, the ``History`` object and the plots get it.

    Keras 3.15 already writes it to TensorBoard (``TensorBoard._collect_learning_rate``)
    but only into its own copy of the logs, and ``ReduceLROnPlateau`` adds it to ``logs``
    only when that callback is used; this callback makes it every run's. The value is the
    rate the next step would use (``schedule(optimizer.iterations)``), as in TensorBoard.

    Example:
        >>> import numpy as np
        >>> model = keras.Sequential([keras.layers.Dense(1)])
        >>> model.compile(optimizer=keras.optimizers.SGD(0.25), loss="mse")
        >>> history = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0,
        ...                     callbacks=[LearningRateLogger()])
        >>> history.history["learning_rate"]
        [0.25, 0.25]
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        optimizer = self.model.optimizer
        # A LossScaleOptimizer (mixed_float16) wraps the optimizer that holds the rate.
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def best_in_history(run_dir, monitor, mode):
    """The best ``monitor`` value in ``history.csv`` (an interrupted run's epochs), or None.

    Keras' callbacks start with no best value when a run resumes, so without it the first
    epoch after a resume always overwrote ``best.weights.h5``, however bad it was.
    """
    path = os.path.join(run_dir, "history.csv")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        values = [float(row[monitor]) for row in csv.DictReader(f)
                  if row.get(monitor) not in (None, "", "nan", "NA")]
    if not values:
        return None
    return min(values) if mode == "min" else max(values)


def standard_callbacks(run_dir, *, monitor="val_loss", mode="min",
                       early_stopping_patience=0, log_writers=()):
    """The callbacks of a run folder (paths as in ../shared/CONTRACT.md).

    Args:
        run_dir: the run folder.
        monitor, mode: the metric that picks the best checkpoint and stops early.
        early_stopping_patience: epochs without improvement before stopping; 0 = never.
        log_writers: callbacks that add values to the epoch ``logs`` (task metrics, the
            plateau cuts that read them); placed after the learning-rate logger and
            before every callback that reads ``logs`` or saves state (the backup).
    """
    checkpoints = os.path.join(run_dir, "checkpoints")
    os.makedirs(checkpoints, exist_ok=True)
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        LearningRateLogger(),
        *log_writers,
        # After the writers: a plateau cut made at this epoch end is in the backup.
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, "best.weights.h5"), monitor=monitor, mode=mode,
            save_best_only=True, save_weights_only=True,
            # Resumed: only an epoch better than the interrupted run's best replaces it.
            initial_value_threshold=best_in_history(run_dir, monitor, mode)),
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
