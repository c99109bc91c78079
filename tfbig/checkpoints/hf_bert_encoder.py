"""A :class:`BertEncoder` that answers with its last hidden states only.

``load_hf_bert`` promises ``encoder(inputs)`` → ``[batch, length, hidden]``, the
``last_hidden_state`` of a Hugging Face ``BertModel``, while tfbig's :class:`BertEncoder`
returns a dict (``sequence_output``, ``pooled_output``) as every tfbig BERT task expects.
This thin wrapper keeps both: it *is* the contract, and ``.backbone`` is the plain
``BertEncoder`` to fine-tune (``BertClassifier(encoder.backbone, num_classes)``).
"""

import keras

from tfbig.models.bert_encoder import BertEncoder  # noqa: F401 (Example)


@keras.saving.register_keras_serializable(package="tfbig")
class HFBertEncoder(keras.Model):
    """``{"token_ids", "padding_mask"[, "segment_ids"]}`` → last hidden states ``[B, T, H]``.

    Args:
        backbone: the :class:`BertEncoder` holding the weights.

    Example:
        >>> import numpy as np
        >>> backbone = BertEncoder(vocabulary_size=50, num_layers=1, num_heads=2,
        ...                        hidden_dim=8, intermediate_dim=16)
        >>> encoder = HFBertEncoder(backbone)
        >>> hidden = encoder({"token_ids": np.array([[2, 9, 3, 0]], "int32"),
        ...                   "padding_mask": np.array([[1, 1, 1, 0]], bool)})
        >>> tuple(hidden.shape)
        (1, 4, 8)
    """

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone

    @property
    def hidden_dim(self):
        return self.backbone.hidden_dim

    def build(self, input_shape):
        if not self.backbone.built:  # a loaded checkpoint comes built
            self.backbone.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return self.backbone(inputs, training=training)["sequence_output"]  # (B, T, H)

    def get_config(self):
        config = super().get_config()
        config.update(backbone=keras.saving.serialize_keras_object(self.backbone))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
