"""Train for a number of minutes: plan the steps that fit, then stop on time.

``--time-budget 25`` (``train.time_budget``) asks for 25 minutes of training, validation
included. The run cannot know its number of steps in advance, so :class:`TimeBudget`:

1. times the train steps after the first few (those trace and compile), then **plans**
   ``steps done + time left / seconds per step`` steps, less the time each epoch spends
   outside its train steps (validation, epoch-end BLEU), measured once an epoch has ended.
   The first plan comes after 20 timed steps, or sooner when those would take more than a
   tenth of the budget (slow steps on a short budget);
2. tells the learning-rate schedule where it ends (``PlannedDecaySchedule.plan``), and
   re-plans at every epoch end with the times measured so far;
3. **stops** at the first batch whose end, plus the validation still to run, would pass the
   budget. Keras then validates that last, partial epoch, so the best checkpoint is chosen
   among all epochs. The final test metrics (beam search) come after the budget; ``train``
   says so and times them.

    time budget: 25 min → about 9,140 steps (≈ 20.1 epochs) at 152 ms a step
"""

import math
import time

import keras

from tfbig.training.time_estimate import format_duration


class TimeBudget(keras.callbacks.Callback):
    """Plan the steps that fit in ``minutes`` and stop on time.

    Args:
        minutes: the budget, wall time from the start of ``fit``.
        steps_per_epoch: train steps an epoch.
        log: ``log(message)``, where the plan goes.
        schedule: a schedule with ``plan(total_steps)`` (or None).
        progress: the run's ``keras.callbacks.ProgbarLogger``, whose "Epoch k/N" then
            counts the planned epochs (or None).
        validation_batches: batches of one validation; until an epoch has ended and the
            time outside train steps is measured, each is guessed at a third of a train
            step (a forward pass).
        clock: a function giving seconds (tests pass a fake one).
        batches_per_update: ``train.gradient_accumulation_steps``: the plan counts train
            batches, the schedule optimizer updates (one every this many batches).
    """

    SKIP_STEPS = 3  # the first steps trace and compile: not timed
    TIMED_STEPS = 20  # steps timed before the first plan ...
    TIMED_SHARE = 0.1  # ... unless timing them would take more than this share of the budget

    def __init__(self, minutes, steps_per_epoch, log, schedule=None, progress=None,
                 validation_batches=0, clock=time.perf_counter, batches_per_update=1):
        super().__init__()
        self.progress = progress
        self.validation_batches = validation_batches
        self.budget = 60.0 * minutes
        self.steps_per_epoch = steps_per_epoch
        self.log, self.schedule, self.clock = log, schedule, clock
        self.batches_per_update = batches_per_update
        self.steps = 0  # train steps done by this fit
        self.planned_steps = None
        self.step_seconds = None
        self.epoch_overhead = 0.0  # seconds an epoch spends outside its train steps
        self.stopped_early = False

    def on_train_begin(self, logs=None):
        self.start = self.clock()
        self.timing_start = None
        if self.progress is not None:
            self.progress.epochs = 1  # no "Epoch 1/N" before N is planned

    def elapsed(self):
        return self.clock() - self.start

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.clock()
        self.epoch_steps_start = self.steps
        self.train_seconds = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.batch_start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        now = self.clock()
        self.steps += 1
        self.train_seconds += now - self.batch_start
        if self.steps == self.SKIP_STEPS:
            self.timing_start = now
        elif self.steps > self.SKIP_STEPS and self.planned_steps is None:
            timed, seconds = self.steps - self.SKIP_STEPS, now - self.timing_start
            if timed >= self.TIMED_STEPS or seconds >= self.TIMED_SHARE * self.budget:
                self.step_seconds = seconds / timed
                self.epoch_overhead = self.validation_batches * self.step_seconds / 3
                self._plan(announce=True)
        if self.elapsed() + self.epoch_overhead >= self.budget:
            self.model.stop_training = True
            self.stopped_early = True

    def on_epoch_end(self, epoch, logs=None):
        steps = self.steps - self.epoch_steps_start
        epoch_seconds = self.clock() - self.epoch_start
        # The epoch's time outside its train steps: validation and epoch-end metrics.
        self.epoch_overhead = max(0.0, epoch_seconds - self.train_seconds)
        if steps > self.SKIP_STEPS and self.timing_start is not None:
            self.step_seconds = self.train_seconds / steps  # steady enough after epoch 1
        if self.step_seconds:
            self._plan(announce=self.planned_steps is None)

    def _plan(self, announce):
        left = max(0.0, self.budget - self.elapsed())
        # Each epoch still to come costs its steps plus one validation.
        epoch_seconds = self.steps_per_epoch * self.step_seconds + self.epoch_overhead
        more = left / epoch_seconds * self.steps_per_epoch if epoch_seconds else 0
        self.planned_steps = max(self.steps + int(more), self.steps + 1)
        if self.schedule is not None:
            self.schedule.plan(self.planned_steps // self.batches_per_update)
        if self.progress is not None:
            self.progress.epochs = math.ceil(self.planned_steps / self.steps_per_epoch)
        if announce:
            self.log(f"time budget: {format_duration(self.budget)} → about "
                     f"{self.planned_steps:,} steps (≈ "
                     f"{self.planned_steps / self.steps_per_epoch:.1f} epochs) at "
                     f"{1000 * self.step_seconds:.0f} ms a step; the learning rate decays "
                     f"to 0 there")

    @staticmethod
    def epochs_for(minutes, steps_per_epoch, max_epochs=10_000):
        """``fit``'s epoch count for a budget: an upper bound the budget stops first."""
        return max(1, min(max_epochs, math.ceil(minutes * 60 * 1000 / max(steps_per_epoch, 1))))
