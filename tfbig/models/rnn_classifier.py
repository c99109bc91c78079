"""A recurrent text classifier: embed, run an (optionally bidirectional) LSTM/GRU, classify
from its final state(s).

Padding is skipped, not read: the RNN gets ``padding_mask`` as its Keras mask, so a masked
step leaves the state unchanged and extra right-padding never changes the logits.

Reference: Hochreiter & Schmidhuber 1997; Schuster & Paliwal 1997 (bidirectional RNNs).
"""

import keras
from keras import ops

from tfbig.layers.dropout import Dropout
from tfbig.layers.recurrent import check_cell, recurrent_layer
from tfbig.models.text_inputs import token_ids_shape, unpack_text_inputs


@keras.saving.register_keras_serializable(package="tfbig")
class RNNClassifier(keras.Model):
    """``{"token_ids", "padding_mask"}`` → float32 logits ``[B, num_classes]``.

    Args:
        vocabulary_size: number of token ids (id 0 is padding).
        num_classes: number of labels.
        embedding_dim: token embedding size.
        units: RNN state size (per direction).
        cell: ``"lstm"`` or ``"gru"``.
        bidirectional: read the text both ways and concatenate the two final states.
        dropout: dropout after the embedding and before the classification layer.

    Example:
        >>> import numpy as np
        >>> model = RNNClassifier(vocabulary_size=30, num_classes=2, embedding_dim=8, units=8)
        >>> logits = model({"token_ids": np.array([[5, 6, 7, 0]], "int32"),
        ...                 "padding_mask": np.array([[1, 1, 1, 0]], bool)})
        >>> tuple(logits.shape)
        (1, 2)

    Reference: Schuster & Paliwal 1997, https://doi.org/10.1109/78.650093
    """

    def __init__(self, vocabulary_size, num_classes, embedding_dim=128, units=128,
                 cell="lstm", bidirectional=True, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        check_cell(cell)
        self.vocabulary_size = vocabulary_size
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.units = units
        self.cell = cell
        self.bidirectional = bidirectional
        self.dropout = dropout

        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="embedding", dtype=self.dtype_policy)
        self.embedding_dropout = Dropout(dropout, name="embedding_dropout")
        rnn = recurrent_layer(cell, units, name=cell, dtype=self.dtype_policy)
        self.rnn = (keras.layers.Bidirectional(rnn, name="bidirectional",
                                               dtype=self.dtype_policy)
                    if bidirectional else rnn)
        self.head_dropout = Dropout(dropout, name="head_dropout")
        self.classifier = keras.layers.Dense(
            num_classes, name="classifier", dtype=self.dtype_policy)

    def build(self, input_shape):
        token_shape = token_ids_shape(input_shape)
        self.embedding.build(token_shape)
        self.rnn.build(token_shape + (self.embedding_dim,))
        directions = 2 if self.bidirectional else 1
        self.classifier.build((token_shape[0], directions * self.units))
        self.built = True

    def call(self, inputs, training=None):
        token_ids, padding_mask, _ = unpack_text_inputs(inputs)
        x = self.embedding_dropout(self.embedding(token_ids), training=training)  # (B, T, E)
        # The final state after the last real token (forward) / the first one (backward).
        x = self.rnn(x, mask=padding_mask, training=training)  # (B, directions * units)
        logits = self.classifier(self.head_dropout(x, training=training))
        return ops.cast(logits, "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size, num_classes=self.num_classes,
            embedding_dim=self.embedding_dim, units=self.units, cell=self.cell,
            bidirectional=self.bidirectional, dropout=self.dropout)
        return config
