"""Learning-rate schedules, all with a linear warm-up.

The paper's schedule ("Attention Is All You Need", section 5.3):

    lrate = d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)

i.e. linear warm-up to ``d_model^-0.5 · warmup_steps^-0.5`` and then decay ∝ 1/√step.
Written with its peak made explicit, ``peak · min(step / warmup, √(warmup / step))``, the
same curve can be given any peak learning rate.
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfbig")
class TransformerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then inverse-square-root decay.

    Args:
        d_model: model width (sets the paper's peak when ``peak_learning_rate`` is None).
        warmup_steps: steps of linear warm-up.
        peak_learning_rate: learning rate at the end of warm-up; None for the paper's
            ``d_model^-0.5 · warmup_steps^-0.5``.

    Example:
        >>> schedule = TransformerSchedule(d_model=512, warmup_steps=4000)
        >>> round(float(schedule(4000)), 6)  # the paper's peak
        0.000699
    """

    def __init__(self, d_model, warmup_steps=4000, peak_learning_rate=None):
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps must be >= 1, received {warmup_steps}")
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.peak_learning_rate = peak_learning_rate

    @property
    def peak(self):
        if self.peak_learning_rate is not None:
            return float(self.peak_learning_rate)
        return 1.0 / math.sqrt(self.d_model) / math.sqrt(self.warmup_steps)

    def __call__(self, step):
        # Step counts from 1: optimizer.iterations is 0 before the first update.
        step = ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        return self.peak * ops.minimum(step / warmup, ops.sqrt(warmup / step))

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps,
                "peak_learning_rate": self.peak_learning_rate}


@keras.saving.register_keras_serializable(package="tfbig")
class WarmupDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak_learning_rate``, then linear or cosine decay to 0 at
    ``total_steps`` (the usual fine-tuning schedule, BERT-style).

    Args:
        peak_learning_rate: learning rate at the end of warm-up.
        warmup_steps: steps of linear warm-up.
        total_steps: step at which the rate reaches 0.
        decay: ``"linear"`` or ``"cosine"``.
    """

    def __init__(self, peak_learning_rate, warmup_steps, total_steps, decay="linear"):
        if decay not in ("linear", "cosine"):
            raise ValueError(f"decay must be 'linear' or 'cosine', received {decay!r}")
        if total_steps <= warmup_steps:
            raise ValueError(
                f"total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps})")
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.decay = decay

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = ops.minimum(step / max(self.warmup_steps, 1), 1.0)
        progress = ops.clip((step - self.warmup_steps) / (self.total_steps - self.warmup_steps),
                            0.0, 1.0)
        if self.decay == "linear":
            remaining = 1.0 - progress
        else:
            remaining = 0.5 * (1.0 + ops.cos(math.pi * progress))
        return self.peak_learning_rate * ops.where(step <= self.warmup_steps, warmup, remaining)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate,
                "warmup_steps": self.warmup_steps, "total_steps": self.total_steps,
                "decay": self.decay}


@keras.saving.register_keras_serializable(package="tfbig")
class PlannedDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then linear decay to 0 at a total that is planned while training.

    A time-budgeted run (``train.time_budget``) knows its number of steps only once it has
    measured its step time; ``tfbig.training.time_budget.TimeBudget`` then calls ``plan``,
    and re-plans at each epoch end. Decaying to 0 exactly when the time runs out is what a
    fixed budget wants (Li et al. 2020, "Budgeted Training: Rethinking Deep Neural Network
    Training Under Resource Constraints", https://arxiv.org/abs/1905.04753: a linear decay
    to 0 over the budget beats schedules that do not know their end).

    Args:
        peak_learning_rate: learning rate at the end of warm-up.
        total_steps: the first plan (re-planned later).
        warmup_steps: steps of warm-up; None = ``warmup_fraction`` of the plan, at most
            ``max_warmup`` (the paper's 4000).
    """

    def __init__(self, peak_learning_rate, total_steps, warmup_steps=None,
                 warmup_fraction=0.1, max_warmup=4000):
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.warmup_fraction = warmup_fraction
        self.max_warmup = max_warmup
        self.total = keras.Variable(float(total_steps), trainable=False, dtype="float32",
                                    name="planned_steps")

    def warmup_for(self, total_steps):
        if self.warmup_steps is not None:
            return float(self.warmup_steps)
        return float(min(self.max_warmup, max(1, int(self.warmup_fraction * total_steps))))

    def plan(self, total_steps):
        """Make the rate reach 0 at step ``total_steps``."""
        self.total.assign(float(max(total_steps, 1)))

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        total = ops.convert_to_tensor(self.total)
        if self.warmup_steps is not None:
            warmup = ops.cast(self.warmup_steps, "float32")
        else:
            warmup = ops.clip(ops.floor(self.warmup_fraction * total), 1.0,
                              float(self.max_warmup))
        warmup = ops.minimum(warmup, ops.maximum(total - 1.0, 1.0))
        ramp = step / warmup
        remaining = ops.clip((total - step) / ops.maximum(total - warmup, 1.0), 0.0, 1.0)
        return self.peak_learning_rate * ops.where(step <= warmup, ramp, remaining)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate,
                "total_steps": float(self.total.numpy()), "warmup_steps": self.warmup_steps,
                "warmup_fraction": self.warmup_fraction, "max_warmup": self.max_warmup}
