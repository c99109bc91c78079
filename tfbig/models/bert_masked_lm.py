"""BERT pre-training task: predict the masked tokens (masked language modelling).

The head is BERT's: ``dense(H) → GELU → LayerNorm → logits``, where the output projection is
the (transposed) word-embedding matrix plus a per-token bias, so the input and output
token representations are shared. In Hugging Face names: ``cls.predictions.transform.dense``,
``cls.predictions.transform.LayerNorm``, ``cls.predictions.bias``.

Reference: Devlin et al. 2018, section 3.1 ("Task #1: Masked LM"),
https://arxiv.org/abs/1810.04805
"""

import keras
from keras import ops

from tfbig.models.bert_encoder import BertEncoder  # noqa: F401 (used by the Example)
from tfbig.models.bert_encoder import without_pooler
from tfbig.models.real_token_step import RealTokenTrainStep
from tfbig.models.text_inputs import token_ids_shape


@keras.saving.register_keras_serializable(package="tfbig")
class BertMaskedLM(RealTokenTrainStep, keras.Model):
    """A :class:`BertEncoder` backbone with the masked-LM head: logits for every position.

    Args:
        encoder: the :class:`BertEncoder` backbone (its weights are shared, not copied).

    Call: ``model(inputs, training=False)`` with the encoder's inputs (``token_ids`` with
    some ids replaced by [MASK], ``padding_mask``, optional ``segment_ids``) → float32
    logits ``[B, T, vocabulary_size]``. Score only the masked positions in the loss.

    Example:
        >>> import numpy as np
        >>> encoder = BertEncoder(vocabulary_size=50, num_layers=1, num_heads=2,
        ...                       hidden_dim=8, intermediate_dim=16)
        >>> model = BertMaskedLM(encoder)
        >>> logits = model({"token_ids": np.array([[4, 6, 9, 5]], "int32"),
        ...                 "padding_mask": np.ones((1, 4), bool)})
        >>> tuple(logits.shape)
        (1, 4, 50)

    Reference: Devlin et al. 2018, section 3.1, https://arxiv.org/abs/1810.04805
    """

    def __init__(self, encoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.transform_dense = keras.layers.Dense(
            encoder.hidden_dim, activation="gelu", name="transform_dense",
            dtype=self.dtype_policy)
        self.transform_norm = keras.layers.LayerNormalization(
            epsilon=encoder.layer_norm_epsilon, name="transform_norm", dtype=self.dtype_policy)

    def build(self, input_shape):
        hidden_shape = token_ids_shape(input_shape) + (self.encoder.hidden_dim,)
        if not self.encoder.built:  # a loaded or pre-trained encoder comes built
            self.encoder.build(input_shape)
        self.transform_dense.build(hidden_shape)
        self.transform_norm.build(hidden_shape)
        self.output_bias = self.add_weight(
            shape=(self.encoder.vocabulary_size,), initializer="zeros", name="output_bias")
        self.built = True

    @property
    def trainable_weights(self):
        """Every trainable weight the masked-LM loss reaches: all but the encoder's pooler.

        The pooler (``[CLS]`` → tanh dense) is trained by BERT's other pre-training task,
        next-sentence prediction, not by this one; left in, it would get no gradient and
        Keras would warn about it at every ``fit``. It stays a trainable weight of the
        encoder, for the classifiers fine-tuned from it.
        """
        return without_pooler(super().trainable_weights, self.encoder)

    @property
    def head_vocabulary_size(self):
        """Logits per position (``RealTokenTrainStep`` reads it)."""
        return self.encoder.vocabulary_size

    def hidden_states(self, inputs, training=None):
        """The encoder's inputs → its sequence output ``[B, T, H]``."""
        return self.encoder(inputs, training=training)["sequence_output"]

    def logits(self, hidden):
        """The masked-LM head, per position: ``[..., H]`` → float32 logits ``[..., V]``."""
        x = self.transform_norm(self.transform_dense(hidden))  # (..., H)
        table = self.encoder.embedding.token_embedding.embeddings  # (V, H): tied weights
        logits = ops.matmul(x, ops.cast(ops.transpose(table), x.dtype))  # (..., V)
        logits = logits + ops.cast(self.output_bias, x.dtype)
        return ops.cast(logits, "float32")

    def call(self, inputs, training=None):
        return self.logits(self.hidden_states(inputs, training=training))

    def get_config(self):
        config = super().get_config()
        config.update(encoder=keras.saving.serialize_keras_object(self.encoder))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
