"""Cross-entropy over tokens, ignoring padding.

Plain ``SparseCategoricalCrossentropy`` would average over padded positions too, so a batch
with more padding would look easier than it is. Here the mean is over real tokens only:

    loss = Σ_t m_t · CE(y_t, p_t) / Σ_t m_t,   m_t = [y_t ≠ PAD]

Label smoothing (Szegedy et al. 2016; used by "Attention Is All You Need", section 5.4)
replaces the one-hot target by ``(1 - ε)·onehot + ε / V``.
"""

import keras
from keras import ops

from tfbig.special_tokens import PAD_ID


@keras.saving.register_keras_serializable(package="tfbig")
class MaskedSparseCrossentropy(keras.losses.Loss):
    """Mean cross-entropy over non-padding tokens, from logits, with optional smoothing.

    Args:
        label_smoothing: ε in ``[0, 1)``.
        pad_id: the label id to ignore.

    Example:
        >>> import numpy as np
        >>> loss = MaskedSparseCrossentropy()
        >>> y_true = np.array([[3, 1, 0]])  # last position is padding
        >>> logits = np.zeros((1, 3, 5), "float32")
        >>> round(float(loss(y_true, logits)), 4)  # log(5): padding is not counted
        1.6094
    """

    def __init__(self, label_smoothing=0.0, pad_id=PAD_ID, name="masked_sparse_crossentropy",
                 **kwargs):
        kwargs.pop("reduction", None)  # the masked mean *is* the reduction
        super().__init__(name=name, reduction="none", **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), received {label_smoothing}")
        self.label_smoothing = label_smoothing
        self.pad_id = pad_id

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        logits = ops.cast(y_pred, "float32")
        mask = ops.not_equal(y_true, self.pad_id)
        # One fused op (TensorFlow's SparseSoftmaxCrossEntropyWithLogits): -log p_y from the
        # logits without materialising log-probabilities or scattering a gather's gradient
        # back over the vocabulary (that scatter alone cost ~0.3 CPU-s per step at vocab
        # 8000, batch 32 × 64). Padding labels point at id 0 so any pad_id is a valid class.
        labels = ops.where(mask, y_true, 0)
        per_token = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        if self.label_smoothing:
            # The smoothed target's extra term, -mean_v log p_v = logsumexp(z) - mean(z).
            epsilon = self.label_smoothing
            uniform = ops.logsumexp(logits, axis=-1) - ops.mean(logits, axis=-1)
            per_token = (1.0 - epsilon) * per_token + epsilon * uniform
        mask = ops.cast(mask, "float32")
        # One scalar per batch: sum over real tokens / number of real tokens.
        return per_replica(ops.sum(per_token * mask) / ops.maximum(ops.sum(mask), 1.0))

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config.update(label_smoothing=self.label_smoothing, pad_id=self.pad_id)
        return config


def per_replica(loss):
    """``loss`` divided by the replicas of the running ``tf.distribute`` strategy.

    Keras divides each replica's loss by the replica count inside its reductions, so that
    summing the replicas' gradients gives the gradient of the batch mean, and multiplies
    the reported loss back (``keras/src/losses/loss.py``, ``scale_loss_for_distribution``).
    A loss that does its own reduction (``reduction="none"`` returning a scalar) skips that
    step: without this, two replicas trained on twice the mean gradient and reported twice
    the loss. Other backends: unchanged.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * ops.cast(1.0 / replicas, loss.dtype)

