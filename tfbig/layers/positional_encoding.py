"""Token embeddings plus position information.

Sinusoidal encoding (Vaswani et al. 2017, section 3.5, https://arxiv.org/abs/1706.03762):

    PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
    PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))

Token embeddings are multiplied by √d_model before the encoding is added (section 3.4),
so that the embedding and the (bounded, ±1) encoding have comparable scales.

With ``positional="rotary"`` nothing is added here: position enters in the attention
layers, which rotate queries and keys (:mod:`tfbig.layers.rotary`).
"""

import math

import keras
import numpy as np
from keras import ops

POSITIONALS = ("sinusoidal", "learned", "rotary")


def positional_encoding(length, depth):
    """The sinusoidal table ``[length, depth]`` as float32 numpy (sin/cos interleaved)."""
    positions = np.arange(length)[:, None]  # (length, 1)
    rates = 1.0 / np.power(10000.0, (2 * (np.arange(depth) // 2)) / depth)  # (depth,)
    angles = positions * rates[None, :]  # (length, depth)
    encoding = np.empty((length, depth), dtype="float32")
    encoding[:, 0::2] = np.sin(angles[:, 0::2])
    encoding[:, 1::2] = np.cos(angles[:, 1::2])
    return encoding


@keras.saving.register_keras_serializable(package="tfbig")
class PositionalEmbedding(keras.layers.Layer):
    """``embedding(token) * √d_model + position(t)``, for ids ``[batch, T]``.

    Args:
        vocabulary_size: number of token ids.
        d_model: embedding size.
        max_length: longest sequence the model accepts (size of the position table).
        positional: ``"sinusoidal"`` (fixed, the paper's), ``"learned"`` (BERT/GPT style)
            or ``"rotary"`` (no position vectors: the attention layers rotate queries and
            keys instead; the token embedding alone).
        scale_embeddings: multiply token embeddings by √d_model (the paper does).

    Call arguments:
        token_ids: int ``[batch, T]``.
        start_index: position of the first token (non-zero during cached decoding).

    Example:
        >>> import numpy as np
        >>> layer = PositionalEmbedding(vocabulary_size=10, d_model=8, max_length=16)
        >>> tuple(layer(np.array([[3, 4, 0]])).shape)
        (1, 3, 8)
    """

    def __init__(self, vocabulary_size, d_model, max_length=2048, positional="sinusoidal",
                 scale_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        if positional not in POSITIONALS:
            raise ValueError(f"positional must be 'sinusoidal', 'learned' or 'rotary', "
                             f"received {positional!r}")
        self.vocabulary_size = vocabulary_size
        self.d_model = d_model
        self.max_length = max_length
        self.positional = positional
        self.scale_embeddings = scale_embeddings
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, d_model, name="token_embedding", dtype=self.dtype_policy)
        if positional == "learned":
            self.position_embedding = keras.layers.Embedding(
                max_length, d_model, name="position_embedding", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        if self.positional == "learned":
            self.position_embedding.build((self.max_length,))
        elif self.positional == "sinusoidal":
            # A constant, not a weight: nothing to train or save.
            self.encoding = positional_encoding(self.max_length, self.d_model)

    def positions(self, length, start_index=0):
        """Position vectors ``[length, d_model]`` for positions ``start_index ...`` (zeros
        with ``"rotary"``: nothing is added to the token embeddings)."""
        if self.positional == "rotary":
            return ops.zeros((length, self.d_model), dtype=self.compute_dtype)
        if self.positional == "learned":
            return self.position_embedding(ops.arange(length) + start_index)
        table = ops.convert_to_tensor(self.encoding, dtype=self.compute_dtype)
        return ops.slice(table, (start_index, 0), (length, self.d_model))

    def call(self, token_ids, start_index=0):
        x = self.token_embedding(token_ids)  # (B, T, d_model)
        if self.scale_embeddings:
            x = x * ops.cast(math.sqrt(self.d_model), x.dtype)
        if self.positional == "rotary":
            return x  # positions are in the attention layers' rotations
        length = ops.shape(token_ids)[1]
        return x + ops.cast(self.positions(length, start_index), x.dtype)[None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.d_model,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            d_model=self.d_model,
            max_length=self.max_length,
            positional=self.positional,
            scale_embeddings=self.scale_embeddings,
        )
        return config
