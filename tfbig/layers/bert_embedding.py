"""BERT's input embedding: token + segment + learned position, then LayerNorm and dropout.

Unlike the Transformer's :class:`PositionalEmbedding`, BERT does not multiply the token
embeddings by √d_model, adds a third (segment, "token type") table, and normalises the sum.
The four weights map one to one onto a Hugging Face BERT checkpoint's
``embeddings.{word,position,token_type}_embeddings`` and ``embeddings.LayerNorm``.

Reference: Devlin et al. 2018, section 3 (figure 2), https://arxiv.org/abs/1810.04805
"""

import keras
from keras import ops

from tfbig.layers.dropout import Dropout


@keras.saving.register_keras_serializable(package="tfbig")
class BertEmbedding(keras.layers.Layer):
    """``LayerNorm(token(ids) + segment(segment_ids) + position(t))``, then dropout.

    Args:
        vocabulary_size: number of token ids.
        hidden_dim: embedding size.
        max_sequence_length: size of the learned position table.
        num_segments: size of the segment table (2: sentence A / sentence B).
        layer_norm_epsilon: epsilon of the LayerNorm (1e-12 in BERT).
        dropout: dropout rate after the LayerNorm.

    Call arguments:
        token_ids: int ``[batch, T]``.
        segment_ids: int ``[batch, T]``; ``None`` means all zeros (one segment).

    Example:
        >>> import numpy as np
        >>> layer = BertEmbedding(vocabulary_size=10, hidden_dim=8, max_sequence_length=16)
        >>> tuple(layer(np.array([[4, 7, 5, 0]])).shape)
        (1, 4, 8)

    Reference: Devlin et al. 2018, figure 2, https://arxiv.org/abs/1810.04805
    """

    def __init__(self, vocabulary_size, hidden_dim, max_sequence_length=512, num_segments=2,
                 layer_norm_epsilon=1e-12, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout

        def embedding(size, name):
            return keras.layers.Embedding(
                size, hidden_dim, name=name, dtype=self.dtype_policy,
                embeddings_initializer=keras.initializers.TruncatedNormal(stddev=0.02))

        self.token_embedding = embedding(vocabulary_size, "token_embedding")
        self.segment_embedding = embedding(num_segments, "segment_embedding")
        self.position_embedding = embedding(max_sequence_length, "position_embedding")
        self.embedding_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="embedding_norm", dtype=self.dtype_policy)
        self.embedding_dropout = Dropout(dropout, name="embedding_dropout")

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        self.segment_embedding.build(token_ids_shape)
        self.position_embedding.build((self.max_sequence_length,))
        self.embedding_norm.build(tuple(token_ids_shape) + (self.hidden_dim,))

    def call(self, token_ids, segment_ids=None, training=None):
        if segment_ids is None:
            segment_ids = ops.zeros_like(token_ids)
        length = ops.shape(token_ids)[1]
        x = self.token_embedding(token_ids)  # (B, T, H): no √H scaling in BERT
        x = x + self.segment_embedding(segment_ids)  # (B, T, H)
        x = x + self.position_embedding(ops.arange(length))[None]  # (1, T, H)
        return self.embedding_dropout(self.embedding_norm(x), training=training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            hidden_dim=self.hidden_dim,
            max_sequence_length=self.max_sequence_length,
            num_segments=self.num_segments,
            layer_norm_epsilon=self.layer_norm_epsilon,
            dropout=self.dropout,
        )
        return config
