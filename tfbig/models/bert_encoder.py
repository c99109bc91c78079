"""The BERT backbone: embeddings, post-norm Transformer encoder blocks, and the pooler.

Its weights have the layout of a Hugging Face BERT checkpoint, one tensor for one tensor:

=============================================  ============================================
tfbig weight path                              Hugging Face ``BertModel`` name
=============================================  ============================================
``embedding/token_embedding``                  ``embeddings.word_embeddings``
``embedding/position_embedding``               ``embeddings.position_embeddings``
``embedding/segment_embedding``                ``embeddings.token_type_embeddings``
``embedding/embedding_norm``                   ``embeddings.LayerNorm``
``block_{i}/self_attention/{query,key,value}`` ``encoder.layer.{i}.attention.self.*``
``block_{i}/self_attention/attention_output``  ``encoder.layer.{i}.attention.output.dense``
``block_{i}/attention_norm``                   ``encoder.layer.{i}.attention.output.LayerNorm``
``block_{i}/feed_forward/inner``               ``encoder.layer.{i}.intermediate.dense``
``block_{i}/feed_forward/outer``               ``encoder.layer.{i}.output.dense``
``block_{i}/feed_forward_norm``                ``encoder.layer.{i}.output.LayerNorm``
``pooler``                                     ``pooler.dense``
=============================================  ============================================

(Dense kernels are ``[in, out]`` here and ``[out, in]`` in PyTorch: transpose on import.)

Reference: Devlin et al. 2018, https://arxiv.org/abs/1810.04805
"""

import keras
from keras import ops

from tfbig.layers.arguments import KeepsArguments
from tfbig.layers.bert_embedding import BertEmbedding
from tfbig.layers.encoder_block import EncoderBlock
from tfbig.layers.stack import final_norm
from tfbig.layers.validation import check_num_heads
from tfbig.models.text_inputs import token_ids_shape, unpack_text_inputs


def without_pooler(weights, encoder):
    """``weights`` less ``encoder``'s pooler: for heads that never use the pooled output,
    whose loss gives the pooler no gradient (Keras would warn at every ``fit``)."""
    pooler = {id(weight) for weight in encoder.pooler.weights}
    return [weight for weight in weights if id(weight) not in pooler]


@keras.saving.register_keras_serializable(package="tfbig")
class BertEncoder(KeepsArguments, keras.Model):
    """BERT: ``{"token_ids", "padding_mask"[, "segment_ids"]}`` → contextual vectors.

    Args:
        vocabulary_size: number of token ids (id 0 is [PAD]).
        num_layers: encoder blocks.
        num_heads: attention heads; must divide ``hidden_dim``.
        hidden_dim: model width ``H``.
        intermediate_dim: feed-forward inner size (4H in BERT).
        dropout: dropout on embeddings, residual branches and attention weights.
        max_sequence_length: size of the learned position table.
        num_segments: size of the segment ("token type") table.
        layer_norm_epsilon: LayerNorm epsilon (1e-12 in BERT).
        activation: feed-forward activation; ``"gelu"`` is the exact (erf) GELU of BERT.
        norm_first: pre-norm blocks (+ a final LayerNorm) instead of BERT's post-norm.

    Call: ``encoder(inputs, training=False)`` with ``token_ids`` int32 ``[B, T]``,
    ``padding_mask`` bool ``[B, T]`` (True = real token) and optional ``segment_ids`` int32
    ``[B, T]`` (default zeros) → ``{"sequence_output": [B, T, H], "pooled_output": [B, H]}``,
    where ``pooled_output = tanh(dense(sequence_output[:, 0]))`` (the [CLS] position).

    Example:
        >>> import numpy as np
        >>> encoder = BertEncoder(vocabulary_size=50, num_layers=1, num_heads=2,
        ...                       hidden_dim=8, intermediate_dim=16)
        >>> outputs = encoder({"token_ids": np.array([[4, 9, 5, 0]], "int32"),
        ...                    "padding_mask": np.array([[1, 1, 1, 0]], bool)})
        >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
        ((1, 4, 8), (1, 8))

    Reference: Devlin et al. 2018, https://arxiv.org/abs/1810.04805
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 dropout=0.1, max_sequence_length=512, num_segments=2,
                 layer_norm_epsilon=1e-12, activation="gelu", norm_first=False, **kwargs):
        super().__init__(**kwargs)
        check_num_heads(hidden_dim, num_heads, "hidden_dim")
        self.keep_arguments(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout,
            max_sequence_length=max_sequence_length, num_segments=num_segments,
            layer_norm_epsilon=layer_norm_epsilon, activation=activation, norm_first=norm_first)

        self.embedding = BertEmbedding(
            vocabulary_size, hidden_dim, max_sequence_length, num_segments,
            layer_norm_epsilon, dropout, name="embedding", dtype=self.dtype_policy)
        self.blocks = [
            EncoderBlock(hidden_dim, num_heads, intermediate_dim, dropout,
                         activation=activation, norm_first=norm_first,
                         layer_norm_epsilon=layer_norm_epsilon, name=f"block_{i}",
                         dtype=self.dtype_policy)
            for i in range(num_layers)
        ]
        self.final_norm = final_norm(norm_first, layer_norm_epsilon, self.dtype_policy)
        self.pooler = keras.layers.Dense(
            hidden_dim, activation="tanh", name="pooler", dtype=self.dtype_policy)

    def build(self, input_shape):
        token_shape = token_ids_shape(input_shape)
        hidden_shape = token_shape + (self.hidden_dim,)
        self.embedding.build(token_shape)
        for block in self.blocks:
            block.build(hidden_shape)
        if self.final_norm is not None:
            self.final_norm.build(hidden_shape)
        self.pooler.build((token_shape[0], self.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        token_ids, padding_mask, segment_ids = unpack_text_inputs(inputs)
        attention_mask = ops.expand_dims(padding_mask, 1)  # (B, 1, T): no query sees padding
        x = self.embedding(token_ids, segment_ids, training=training)  # (B, T, H)
        for block in self.blocks:
            x = block(x, attention_mask=attention_mask, training=training)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return {"sequence_output": x, "pooled_output": self.pooler(x[:, 0])}

    def attention_scores(self, inputs):
        """Every block's self-attention weights (dropout off), for plots and rollout: one
        ``[B, heads, T, T]`` tensor per layer, queries down, keys across."""
        token_ids, padding_mask, segment_ids = unpack_text_inputs(inputs)
        attention_mask = ops.expand_dims(padding_mask, 1)  # (B, 1, T)
        x = self.embedding(token_ids, segment_ids, training=False)  # (B, T, H)
        weights = []
        for block in self.blocks:
            x, layer_weights = block(x, attention_mask=attention_mask, training=False,
                                     return_attention_scores=True)
            weights.append(layer_weights)  # (B, heads, T, T)
        return weights
