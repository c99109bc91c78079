"""The encoder stack: embed the source, then ``num_layers`` encoder blocks."""

import keras

from tfbig.layers import masks
from tfbig.layers.dropout import Dropout
from tfbig.layers.encoder_block import EncoderBlock
from tfbig.layers.positional_encoding import PositionalEmbedding


@keras.saving.register_keras_serializable(package="tfbig")
class Encoder(keras.layers.Layer):
    """``token ids [batch, T] → contextual vectors [batch, T, d_model]``.

    The article indexed a two-element list of layers by layer number; here the stack is a
    real list of ``num_layers`` independent :class:`EncoderBlock` s.

    Args:
        num_layers, d_model, num_heads, dff: sizes, as in the paper.
        vocabulary_size: source vocabulary size (id 0 is padding).
        dropout_rate: dropout after the embedding and on every residual branch.
        max_length: longest source sequence.
        positional: ``"sinusoidal"`` or ``"learned"``.
        activation, norm_first, attention_dropout, layer_norm_epsilon: see EncoderBlock.
            Pre-norm stacks end with a final layer norm (the blocks' outputs are un-normed).
    """

    def __init__(self, num_layers, d_model, num_heads, dff, vocabulary_size, dropout_rate=0.1,
                 max_length=2048, positional="sinusoidal", activation="relu",
                 norm_first=False, attention_dropout=None, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.d_model = d_model
        self.num_heads = num_heads
        self.dff = dff
        self.vocabulary_size = vocabulary_size
        self.dropout_rate = dropout_rate
        self.max_length = max_length
        self.positional = positional
        self.activation = activation
        self.norm_first = norm_first
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon

        self.embedding = PositionalEmbedding(
            vocabulary_size, d_model, max_length, positional, name="embedding",
            dtype=self.dtype_policy)
        self.embedding_dropout = Dropout(dropout_rate, name="embedding_dropout")
        self.blocks = [
            EncoderBlock(d_model, num_heads, dff, dropout_rate, attention_dropout, activation,
                         norm_first, layer_norm_epsilon, name=f"block_{i}",
                         dtype=self.dtype_policy)
            for i in range(num_layers)
        ]
        self.final_norm = (
            keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="final_norm",
                                            dtype=self.dtype_policy)
            if norm_first else None)

    def build(self, input_shape):
        self.embedding.build(input_shape)
        hidden_shape = tuple(input_shape) + (self.d_model,)
        for block in self.blocks:
            block.build(hidden_shape)
        if self.final_norm is not None:
            self.final_norm.build(hidden_shape)

    def call(self, token_ids, training=None, return_attention_scores=False):
        attention_mask = masks.key_padding_mask(token_ids)  # (B, 1, T)
        x = self.embedding_dropout(self.embedding(token_ids), training=training)
        all_weights = []
        for block in self.blocks:
            x, weights = block(x, attention_mask=attention_mask, training=training,
                               return_attention_scores=True)
            all_weights.append(weights)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return (x, all_weights) if return_attention_scores else x


    def get_config(self):
        config = super().get_config()
        config.update(
            num_layers=self.num_layers, d_model=self.d_model, num_heads=self.num_heads,
            dff=self.dff, vocabulary_size=self.vocabulary_size,
            dropout_rate=self.dropout_rate, max_length=self.max_length,
            positional=self.positional, activation=self.activation,
            norm_first=self.norm_first, attention_dropout=self.attention_dropout,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config
