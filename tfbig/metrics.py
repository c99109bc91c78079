"""Keras metrics that ignore padding."""

import keras
from keras import ops

from tfbig.ops import argmax
from tfbig.special_tokens import PAD_ID


@keras.saving.register_keras_serializable(package="tfbig")
class MaskedAccuracy(keras.metrics.Metric):
    """Token accuracy over non-padding labels: ``Σ m_t [argmax p_t = y_t] / Σ m_t``.

    Args:
        pad_id: the label id to ignore.

    Example:
        >>> import numpy as np
        >>> metric = MaskedAccuracy()
        >>> metric.update_state(np.array([[1, 2, 0]]), np.eye(3, dtype="float32")[[[1, 0, 0]]])
        >>> float(metric.result())  # 1 of 2 real tokens right; padding ignored
        0.5
    """

    def __init__(self, pad_id=PAD_ID, name="masked_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = pad_id
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        predicted = argmax(y_pred, axis=-1)  # not ops.argmax: see tfbig.ops
        mask = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        if sample_weight is not None:
            mask = mask * ops.cast(sample_weight, "float32")
        self.correct.assign_add(ops.sum(ops.cast(ops.equal(predicted, y_true), "float32") * mask))
        self.total.assign_add(ops.sum(mask))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}
