"""What the two classification tasks (``classify``, ``image``) share: one logit per class,
sparse cross-entropy, accuracy, and batched logits in input order."""

from tfbig.tasks.base import Task


class ClassScoresTask(Task):
    """A task whose model maps each example to ``[classes]`` logits."""

    keras_metrics = ("val_loss", "val_accuracy")
    epoch_metrics = ("val_macro_f1", "val_macro_precision", "val_macro_recall")

    def __init__(self, config):
        super().__init__(config)
        self._forward = None  # (model, its traced forward pass)

    def loss_and_metrics(self):
        import keras

        return (keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                [keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    def epoch_scorer(self, validation, max_examples):
        """Macro F1/precision/recall over the whole validation split (a forward pass is cheap
        next to decoding, so ``max_examples`` does not cap it)."""
        from tfbig.training.task_metrics import ClassificationScorer

        return ClassificationScorer(self, validation)

    def logits(self, model, examples, batch_size=None):
        """float32 ``[N, classes]`` logits of ``examples``, in their order."""
        import numpy as np
        import tensorflow as tf

        if self._forward is None or self._forward[0] is not model:  # trace once per model
            self._forward = (model, tf.function(lambda inputs: model(inputs, training=False),
                                                reduce_retracing=True, autograph=False))
        forward = self._forward[1]
        batches = self.dataset(examples, training=False, batch_size=batch_size)
        return np.concatenate([forward(inputs).numpy() for inputs, _ in batches])
