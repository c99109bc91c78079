"""Kim's convolutional sentence classifier: parallel 1-D convolutions of several widths over
the word embeddings, max-over-time pooling, dropout, softmax layer.

Padding is ignored twice over: padded positions get a zero embedding (so a window at the end
of a sentence sees the same zeros however much padding follows) and are left out of the
max-over-time pooling. Together these make the logits independent of extra padding.

Reference: Kim 2014, "Convolutional Neural Networks for Sentence Classification",
https://arxiv.org/abs/1408.5882
"""

import keras
from keras import ops

from tfbig.layers.dropout import Dropout
from tfbig.models.text_inputs import token_ids_shape, unpack_text_inputs


@keras.saving.register_keras_serializable(package="tfbig")
class TextCNN(keras.Model):
    """``{"token_ids", "padding_mask"}`` → float32 logits ``[B, num_classes]``.

    Args:
        vocabulary_size: number of token ids (id 0 is padding).
        num_classes: number of labels.
        embedding_dim: token embedding size.
        filters: feature maps per kernel size (100 in the paper).
        kernel_sizes: convolution widths in tokens (3, 4, 5 in the paper).
        dropout: dropout on the pooled features (0.5 in the paper).

    Example:
        >>> import numpy as np
        >>> model = TextCNN(vocabulary_size=30, num_classes=2, embedding_dim=8, filters=4)
        >>> logits = model({"token_ids": np.array([[5, 6, 7, 0]], "int32"),
        ...                 "padding_mask": np.array([[1, 1, 1, 0]], bool)})
        >>> tuple(logits.shape)
        (1, 2)

    Reference: Kim 2014, https://arxiv.org/abs/1408.5882
    """

    def __init__(self, vocabulary_size, num_classes, embedding_dim=128, filters=100,
                 kernel_sizes=(3, 4, 5), dropout=0.5, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.filters = filters
        self.kernel_sizes = tuple(kernel_sizes)
        self.dropout = dropout

        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="embedding", dtype=self.dtype_policy)
        # "same" padding: one output per token, so the mask applies position by position.
        self.convolutions = [
            keras.layers.Conv1D(filters, size, padding="same", activation="relu",
                                name=f"conv_{size}", dtype=self.dtype_policy)
            for size in self.kernel_sizes
        ]
        self.head_dropout = Dropout(dropout, name="head_dropout")
        self.classifier = keras.layers.Dense(
            num_classes, name="classifier", dtype=self.dtype_policy)

    def build(self, input_shape):
        token_shape = token_ids_shape(input_shape)
        self.embedding.build(token_shape)
        for convolution in self.convolutions:
            convolution.build(token_shape + (self.embedding_dim,))
        self.classifier.build((token_shape[0], self.filters * len(self.kernel_sizes)))
        self.built = True

    def call(self, inputs, training=None):
        token_ids, padding_mask, _ = unpack_text_inputs(inputs)
        real = ops.cast(padding_mask, self.compute_dtype)[..., None]  # (B, T, 1)
        x = self.embedding(token_ids) * real  # (B, T, E), zero at padding
        pooled = []
        for convolution in self.convolutions:
            h = convolution(x)  # (B, T, filters), ReLU so >= 0
            # Max over the real positions only. Because h >= 0, writing 0 at the padded
            # positions leaves the max unchanged (and an all-padding row gives 0, not -inf).
            pooled.append(ops.max(h * real, axis=1))  # (B, filters)
        x = ops.concatenate(pooled, axis=-1)  # (B, filters * len(kernel_sizes))
        logits = self.classifier(self.head_dropout(x, training=training))
        return ops.cast(logits, "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size, num_classes=self.num_classes,
            embedding_dim=self.embedding_dim, filters=self.filters,
            kernel_sizes=list(self.kernel_sizes), dropout=self.dropout)
        return config
