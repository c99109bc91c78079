"""The optimiser and learning-rate schedule of a run, built from ``TrainConfig``."""

import dataclasses

from tfbig.training.fused_adamw import FusedAdamW
from tfbig.training.layerwise_lr import LayerwiseAdamW
from tfbig.training.schedules import (PlannedDecaySchedule, TransformerSchedule,
                                      WarmupDecaySchedule)


def build_schedule(train, d_model, total_steps):
    """``train.schedule`` → a learning rate (float) or a ``LearningRateSchedule``.

    Steps are optimizer updates: ``total_steps`` (and ``train.warmup_steps``) count
    updates, which are the train batches ÷ ``train.gradient_accumulation_steps``
    (:func:`updates`).

    ``plateau`` gives the float peak rate: the optimizer then holds it in a variable,
    which the plateau callbacks (``tfbig.training.plateau``) warm up and cut. ``planned``
    (a time-budgeted run) gives a :class:`PlannedDecaySchedule`, its end planned while
    training; ``warmup_steps=0`` warms it up over a fraction of that plan.
    """
    if train.schedule == "planned":
        return PlannedDecaySchedule(train.learning_rate or 1e-3, total_steps,
                                    warmup_steps=train.warmup_steps or None)
    if train.schedule == "transformer":
        return TransformerSchedule(d_model, max(train.warmup_steps, 1),
                                   peak_learning_rate=train.learning_rate or None)
    if train.schedule in ("constant", "plateau"):
        return train.learning_rate
    warmup = min(train.warmup_steps, max(total_steps - 1, 0))
    return WarmupDecaySchedule(train.learning_rate, warmup, max(total_steps, warmup + 1),
                               decay=train.schedule)


def updates(train, batches):
    """Optimizer updates in ``batches`` train batches: one every
    ``train.gradient_accumulation_steps`` batches (the remainder is never applied)."""
    return batches // train.gradient_accumulation_steps


def scaled_learning_rate(train, replicas):
    """``train.learning_rate``, × ``replicas`` with ``train.scale_learning_rate``: the
    linear scaling rule (Goyal et al. 2017, https://arxiv.org/abs/1706.02677): a batch k×
    larger takes a rate k× larger (``train.warmup_steps`` eases the start)."""
    return train.learning_rate * (replicas if train.scale_learning_rate else 1)


def build_optimizer(train, d_model, total_steps, replicas=1):
    """AdamW (Loshchilov & Hutter 2019) with the paper's β2 and ε, global-norm clipping,
    and no weight decay on biases and layer-norm parameters: a :class:`FusedAdamW`
    (Keras' AdamW with TensorFlow's one-pass Adam kernel). ``total_steps``: the run's
    optimizer updates (:func:`updates`).

    ``train.gradient_accumulation_steps`` N > 1 is Keras' own accumulation: the optimizer
    sums N batches' gradients and applies their mean (clipped, weight decay, Adam) every
    N-th batch, as one batch N× larger would. Under ``mixed_float16`` Keras wraps this
    optimizer in a ``LossScaleOptimizer`` at ``compile``, which refuses the argument
    itself: it hands the unscaled gradients to this inner optimizer, which accumulates.

    With ``train.layer_lr_decay`` < 1 it is a :class:`LayerwiseAdamW`; the fine-tuning
    start sets its per-layer multipliers once the model's variables exist.

    ``replicas``: the strategy's, for ``train.scale_learning_rate``
    (:func:`scaled_learning_rate`).
    """
    train = dataclasses.replace(train, learning_rate=scaled_learning_rate(train, replicas))
    layerwise = train.layer_lr_decay != 1.0
    optimizer_class = LayerwiseAdamW if layerwise else FusedAdamW
    optimizer = optimizer_class(
        learning_rate=build_schedule(train, d_model, total_steps),
        weight_decay=train.weight_decay, beta_1=0.9, beta_2=train.beta_2, epsilon=1e-9,
        global_clipnorm=train.clipnorm or None,
        gradient_accumulation_steps=(train.gradient_accumulation_steps
                                     if train.gradient_accumulation_steps > 1 else None))
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
