"""The optimiser and learning-rate schedule of a run, built from ``TrainConfig``."""

import keras

from tfbig.training.schedules import TransformerSchedule, WarmupDecaySchedule


def build_schedule(train, d_model, total_steps):
    """``train.schedule`` → a learning rate (float) or a ``LearningRateSchedule``."""
    if train.schedule == "transformer":
        return TransformerSchedule(d_model, max(train.warmup_steps, 1),
                                   peak_learning_rate=train.learning_rate or None)
    if train.schedule == "constant":
        return train.learning_rate
    warmup = min(train.warmup_steps, max(total_steps - 1, 0))
    return WarmupDecaySchedule(train.learning_rate, warmup, max(total_steps, warmup + 1),
                               decay=train.schedule)


def build_optimizer(train, d_model, total_steps):
    """AdamW (Loshchilov & Hutter 2019) with the paper's β2 and ε, global-norm clipping,
    and no weight decay on biases and layer-norm parameters."""
    optimizer = keras.optimizers.AdamW(
        learning_rate=build_schedule(train, d_model, total_steps),
        weight_decay=train.weight_decay, beta_1=0.9, beta_2=train.beta_2, epsilon=1e-9,
        global_clipnorm=train.clipnorm or None)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
