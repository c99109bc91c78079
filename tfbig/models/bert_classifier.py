"""BERT fine-tuned for text classification: a :class:`BertEncoder` plus a linear head.

``pooling="cls"`` classifies from the pooled [CLS] vector (BERT's recipe, section 4.1);
``pooling="mean"`` averages the real tokens' vectors (padding excluded), which often works as
well and does not depend on a pre-trained pooler.

Reference: Devlin et al. 2018, section 4.1, https://arxiv.org/abs/1810.04805
"""

import keras
from keras import ops

from tfbig.errors import TfbigError
from tfbig.layers.dropout import Dropout
from tfbig.models.bert_encoder import BertEncoder  # noqa: F401 (used by the Example)
from tfbig.models.bert_encoder import without_pooler
from tfbig.models.text_inputs import token_ids_shape, unpack_text_inputs

POOLINGS = ("cls", "mean")


def masked_mean(x, mask):
    """Mean of ``x [B, T, H]`` over the positions where ``mask [B, T]`` is True → ``[B, H]``."""
    weights = ops.cast(mask, x.dtype)[..., None]  # (B, T, 1)
    total = ops.sum(x * weights, axis=1)  # (B, H)
    return total / ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, x.dtype))


@keras.saving.register_keras_serializable(package="tfbig")
class BertClassifier(keras.Model):
    """``{"token_ids", "padding_mask"[, "segment_ids"]}`` → float32 logits ``[B, num_classes]``.

    Args:
        encoder: the :class:`BertEncoder` backbone (e.g. pre-trained, or loaded from a
            Hugging Face checkpoint).
        num_classes: number of labels.
        pooling: ``"cls"`` (pooled [CLS] output) or ``"mean"`` (mean of the real tokens).
        dropout: dropout before the classification layer.

    Example:
        >>> import numpy as np
        >>> encoder = BertEncoder(vocabulary_size=50, num_layers=1, num_heads=2,
        ...                       hidden_dim=8, intermediate_dim=16)
        >>> model = BertClassifier(encoder, num_classes=3)
        >>> logits = model({"token_ids": np.array([[4, 9, 5, 0]], "int32"),
        ...                 "padding_mask": np.array([[1, 1, 1, 0]], bool)})
        >>> tuple(logits.shape)
        (1, 3)

    Reference: Devlin et al. 2018, section 4.1, https://arxiv.org/abs/1810.04805
    """

    def __init__(self, encoder, num_classes, pooling="cls", dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        if pooling not in POOLINGS:
            raise TfbigError(
                f"pooling must be one of {', '.join(POOLINGS)}; received {pooling!r}")
        self.encoder = encoder
        self.num_classes = num_classes
        self.pooling = pooling
        self.dropout = dropout
        self.head_dropout = Dropout(dropout, name="head_dropout")
        self.classifier = keras.layers.Dense(
            num_classes, name="classifier", dtype=self.dtype_policy,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))

    def build(self, input_shape):
        if not self.encoder.built:  # a loaded or pre-trained encoder comes built
            self.encoder.build(input_shape)
        self.classifier.build((token_ids_shape(input_shape)[0], self.encoder.hidden_dim))
        self.built = True

    @property
    def trainable_weights(self):
        """Every trainable weight; with ``pooling="mean"`` less the encoder's pooler, which
        that head never uses (it would get no gradient, and Keras would warn)."""
        weights = super().trainable_weights
        return weights if self.pooling == "cls" else without_pooler(weights, self.encoder)

    def call(self, inputs, training=None):
        outputs = self.encoder(inputs, training=training)
        if self.pooling == "cls":
            x = outputs["pooled_output"]  # (B, H)
        else:
            _, padding_mask, _ = unpack_text_inputs(inputs)
            x = masked_mean(outputs["sequence_output"], padding_mask)  # (B, H)
        logits = self.classifier(self.head_dropout(x, training=training))
        return ops.cast(logits, "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            num_classes=self.num_classes, pooling=self.pooling, dropout=self.dropout)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
