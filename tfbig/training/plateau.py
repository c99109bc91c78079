"""The ``plateau`` schedule: linear warm-up, then cut the rate when the monitor stalls.

Every other ``train.schedule`` is a ``LearningRateSchedule``: a pure function of the step
that Keras evaluates inside the train step, which no callback can change.
``keras.callbacks.ReduceLROnPlateau`` needs the optimizer's learning rate to be a plain
variable instead, so this schedule is two callbacks around such a variable:

    step < warmup_steps    LinearWarmup sets lr = peak · (step + 1) / warmup_steps
    at each epoch end      ReduceLROnPlateau (Keras' own) multiplies lr by ``factor`` after
                           ``patience`` epochs without improvement of the run's monitor

Resuming (``BackupAndRestore``): the learning-rate variable is one of the optimizer's
variables, so the backup restores it with the weights — cuts already made stay made.
:class:`ResumableReduceLROnPlateau` also keeps its own counters (best value so far, epochs
waited) in the backup folder, so a resumed run cuts at the epoch the uninterrupted run
would have; :class:`LinearWarmup` reads its position from ``optimizer.iterations``.
"""

import json
import os

import keras
import numpy as np


def _optimizer(model):
    # A LossScaleOptimizer (mixed_float16) wraps the optimizer that holds the rate.
    optimizer = model.optimizer
    return getattr(optimizer, "inner_optimizer", optimizer)


class LinearWarmup(keras.callbacks.Callback):
    """Ramp a variable learning rate linearly to ``peak_learning_rate`` over the first
    ``warmup_steps`` optimizer steps, then leave it alone.

    Step ``k`` (``optimizer.iterations`` before the update) runs at
    ``peak · (k + 1) / warmup_steps``, the same ramp as tfbig's ``LearningRateSchedule``s.
    If another callback changes the rate during warm-up (a plateau cut), the ramp continues
    from the changed value: the cut scales the rest of the ramp instead of being undone.
    Keras calls batch callbacks once per compiled call, so with ``steps_per_execution`` k
    the rate changes every k steps.

    Args:
        peak_learning_rate: the rate reached at the end of warm-up.
        warmup_steps: steps of warm-up (>= 1).

    Example:
        >>> model = keras.Sequential([keras.layers.Dense(1)])
        >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, verbose=0,
        ...               callbacks=[LinearWarmup(0.1, warmup_steps=8)])
        >>> round(float(model.optimizer.learning_rate), 6)  # step 3 of 8 ran at 0.1 · 4/8
        0.05
    """

    def __init__(self, peak_learning_rate, warmup_steps):
        super().__init__()
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps must be >= 1, received {warmup_steps}")
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self._peak = None  # the peak in effect (the configured one, scaled by any cut)
        self._last = None  # the float32 value this callback last assigned
        self._done = False

    def _ramp(self, step):
        return (step + 1) / self.warmup_steps

    def on_train_begin(self, logs=None):
        self._peak = self._last = None
        self._done = False

    def on_train_batch_begin(self, batch, logs=None):
        if self._done:  # after warm-up: no per-batch read of the step counter
            return
        optimizer = _optimizer(self.model)
        step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        if step >= self.warmup_steps:
            self._done = True
            return
        current = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        if self._last is None:
            # First batch of this fit: a fresh start, or a resume whose restored rate is
            # what the previous step ran at (maybe cut since): peak = rate / ramp(step - 1).
            self._peak = (self.peak_learning_rate if step == 0
                          else current / self._ramp(step - 1))
        elif current != self._last:  # another callback cut the rate
            self._peak *= current / self._last
        rate = self._peak * self._ramp(step)
        optimizer.learning_rate = rate
        self._last = float(np.float32(rate))


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """Keras' ``ReduceLROnPlateau`` whose counters survive an interrupted run.

    Keras resets ``best``, ``wait`` and ``cooldown_counter`` at every ``fit``; after a
    resume the first epoch would then count as an improvement and a due cut come late.
    This subclass writes them to ``state_path`` at each epoch end and reads them back at
    the start of training. Put ``state_path`` in the run's ``backup/`` folder:
    ``BackupAndRestore`` deletes that folder when training finishes, so a new run starts
    fresh.

    Args:
        state_path: JSON file for the counters.
        **kwargs: ``keras.callbacks.ReduceLROnPlateau``'s arguments (``monitor``, ``mode``,
            ``factor``, ``patience``, ``min_lr``, …).
    """

    def __init__(self, state_path, **kwargs):
        super().__init__(**kwargs)
        self.state_path = state_path

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if os.path.exists(self.state_path):
            with open(self.state_path, encoding="utf-8") as f:
                state = json.load(f)
            self.best = state["best"]
            self.wait = state["wait"]
            self.cooldown_counter = state["cooldown_counter"]

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        os.makedirs(os.path.dirname(self.state_path) or ".", exist_ok=True)
        state = {"best": None if self.best is None else float(self.best),
                 "wait": int(self.wait), "cooldown_counter": int(self.cooldown_counter)}
        tmp = f"{self.state_path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, self.state_path)


def plateau_callbacks(train, *, monitor, mode, state_path, replicas=1):
    """The callbacks of ``train.schedule == "plateau"`` (``train``: a ``TrainConfig``):
    warm-up (when ``train.warmup_steps`` > 0) to the run's rate (× ``replicas`` under
    ``train.scale_learning_rate``), then Keras' plateau cuts on ``monitor``."""
    from tfbig.training.optimizers import scaled_learning_rate

    callbacks = []
    if train.warmup_steps:
        callbacks.append(LinearWarmup(scaled_learning_rate(train, replicas),
                                      train.warmup_steps))
    callbacks.append(ResumableReduceLROnPlateau(
        state_path, monitor=monitor, mode=mode, factor=train.plateau_factor,
        patience=train.plateau_patience, verbose=1))
    return callbacks
