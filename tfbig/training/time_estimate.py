"""How long the rest of a run should take, logged once after its first epoch.

    time: epoch 1 took 52 s (3.1 s of it tracing); the other 9 should take about 49 s each,
    about 7 min 21 s in all
"""

import time

import keras


def format_duration(seconds):
    """``4.9 s``, ``2 min 10 s``, ``1 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class TimeEstimate(keras.callbacks.Callback):
    """Logs once how long an epoch and the rest of the run should take.

    After the first epoch this process trains, once the next epoch begins (so after Keras'
    line for that epoch): the epoch's time, less what its first train step and first
    validation step spent tracing beyond a usual step, is the estimate for each remaining
    epoch (other one-off costs stay in, e.g. compiling the generation of epoch-end BLEU, so
    an estimate errs long on short epochs). Where Keras draws no progress bar
    (``mid_epoch``), a long first epoch is estimated from its steps instead, once a few are
    timed, without waiting for it to end.

    Args:
        steps_per_epoch: train steps an epoch.
        epochs: the run's epochs (a resumed run starts at a later one).
        log: ``log(message)``, where the line goes.
        mid_epoch: may log in the middle of the first epoch.
    """

    MIN_STEPS, MIN_SECONDS, LONG_EPOCH = 5, 5.0, 60.0  # when a mid-epoch estimate is due

    def __init__(self, steps_per_epoch, epochs, log, mid_epoch=False):
        super().__init__()
        self.steps_per_epoch, self.epochs, self.log = steps_per_epoch, epochs, log
        self.mid_epoch = mid_epoch
        self.first_epoch = None
        self.message = None
        self.done = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch, self.epoch_start = epoch, time.perf_counter()
            self.batch_start = self.first_end = self.last_end = None
            self.validation = _StepTimes()
        elif self.message and not self.done:
            self.log(self.message)
            self.done = True

    def _step_seconds(self):
        """A usual step's seconds (the steps after the first execution), if timed."""
        if self.last_end is None or self.last_steps <= self.first_steps:
            return None
        return (self.last_end - self.first_end) / (self.last_steps - self.first_steps)

    def on_test_begin(self, logs=None):
        if self.first_epoch is not None and not (self.done or self.message):
            self.validation.begin = time.perf_counter()

    def on_test_batch_end(self, batch, logs=None):
        if self.validation.begin is not None and not (self.done or self.message):
            self.validation.step_end(batch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.batch_start is None:
            self.batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.done or self.message or self.batch_start is None:
            return
        now = time.perf_counter()
        if self.first_end is None:
            self.first_end, self.first_steps = now, batch + 1
            return
        self.last_end, self.last_steps = now, batch + 1
        step = self._step_seconds()
        timed = self.last_steps - self.first_steps
        epoch_seconds = step * self.steps_per_epoch
        if (self.mid_epoch and timed >= self.MIN_STEPS
                and now - self.first_end >= self.MIN_SECONDS
                and epoch_seconds >= self.LONG_EPOCH):
            epochs = self.epochs - self.first_epoch
            self.log(f"time: about {format_duration(step)} a step: about "
                     f"{format_duration(epoch_seconds)} an epoch of {self.steps_per_epoch} "
                     f"steps (plus validation), about {format_duration(epochs * epoch_seconds)}"
                     f" for {epochs} epoch{'s' if epochs > 1 else ''}")
            self.done = True

    def on_epoch_end(self, epoch, logs=None):
        if self.done or self.message or epoch != self.first_epoch:
            return
        took = time.perf_counter() - self.epoch_start
        left = self.epochs - epoch - 1
        if left < 1:
            return  # the run ends here: its summary says how long it took
        step = self._step_seconds()
        tracing = self.validation.tracing()
        if step is not None and self.first_end is not None:
            tracing += max(0.0, (self.first_end - self.batch_start) - step * self.first_steps)
        each = max(took - tracing, 0.0)
        self.message = (
            f"time: epoch {epoch + 1} took {format_duration(took)}"
            + (f" ({format_duration(tracing)} of it tracing)" if tracing >= 0.1 else "")
            + (f"; the last should take about {format_duration(each)}" if left == 1 else
               f"; the other {left} should take about {format_duration(each)} each, about "
               f"{format_duration(left * each)} in all"))


class _StepTimes:
    """The end times of a loop's steps (from ``begin``): how much longer the first took."""

    def __init__(self):
        self.begin = self.first_end = self.last_end = None
        self.first_steps = self.last_steps = 0

    def step_end(self, batch):
        now = time.perf_counter()
        if self.first_end is None:
            self.first_end, self.first_steps = now, batch + 1
        else:
            self.last_end, self.last_steps = now, batch + 1

    def tracing(self):
        """Seconds the first execution took beyond a usual one; 0 if not timed."""
        if self.last_end is None or self.last_steps <= self.first_steps:
            return 0.0
        step = (self.last_end - self.first_end) / (self.last_steps - self.first_steps)
        return max(0.0, (self.first_end - self.begin) - step * self.first_steps)
