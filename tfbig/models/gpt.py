"""A decoder-only Transformer language model (GPT-2 layout), read top to bottom:

    token + learned position embedding → dropout → N × CausalBlock (pre-norm, GELU)
    → final LayerNorm → logits = x Eᵀ (E: the token embedding, tied)

With ``positional="rotary"`` no position embedding is added; every block's self-attention
rotates its queries and keys by their absolute positions instead (RoPE, as GPT-NeoX and
LLaMA do), in ``call`` and, at ``cache_update_index …``, in ``call_with_cache``.

``call`` scores whole sequences (training); ``call_with_cache`` advances a key/value cache
by a few tokens (generation, see :func:`tfbig.generation.generate`).

References: Radford et al. 2019 (GPT-2), https://openai.com/research/better-language-models;
Karpathy's nanoGPT, https://github.com/karpathy/nanoGPT
"""

import keras
from keras import ops

from tfbig.errors import TfbigError
from tfbig.layers import masks
from tfbig.layers.causal_block import CausalBlock
from tfbig.layers.dropout import Dropout
from tfbig.layers.multi_head_attention import cache_length
from tfbig.layers.positional_encoding import PositionalEmbedding
from tfbig.layers.validation import check_num_heads
from tfbig.models.real_token_step import RealTokenTrainStep


@keras.saving.register_keras_serializable(package="tfbig")
class GPT(RealTokenTrainStep, keras.Model):
    """``token_ids [B, T]`` → float32 next-token logits ``[B, T, vocabulary_size]``.

    Position ``t`` predicts token ``t + 1`` (train on ``ids[:, :-1]`` against
    ``ids[:, 1:]``). Token id 0 is padding: padded keys are masked (on top of the causal
    mask), so right-padding never changes the logits of the real positions.

    Args:
        vocabulary_size: number of token ids.
        num_layers: causal blocks.
        num_heads: attention heads; must divide ``hidden_dim``.
        hidden_dim: model width.
        intermediate_dim: feed-forward inner size (4 × hidden_dim in GPT-2).
        dropout: dropout on embeddings, residual branches and attention weights.
        max_sequence_length: size of the learned position table (the context length).
        layer_norm_epsilon: LayerNorm epsilon.
        positional: ``"learned"`` (GPT-2's position table) or ``"rotary"`` (RoPE in every
            self-attention, :mod:`tfbig.layers.rotary`; ``hidden_dim / num_heads`` must be
            even); ``"sinusoidal"`` works too. ``max_sequence_length`` stays the context
            length either way.

    Call: ``model(token_ids)`` with int32 ``[B, T]``, or a dict ``{"token_ids": ...,
    "padding_mask": ...}`` to give the key padding mask explicitly.

    Example:
        >>> import numpy as np
        >>> model = GPT(vocabulary_size=40, num_layers=1, num_heads=2, hidden_dim=8,
        ...             intermediate_dim=16)
        >>> tuple(model(np.array([[7, 8, 9, 0]], "int32")).shape)
        (1, 4, 40)

    Reference: Radford et al. 2019 (GPT-2), https://openai.com/research/better-language-models
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 dropout=0.1, max_sequence_length=1024, layer_norm_epsilon=1e-5,
                 positional="learned", **kwargs):
        super().__init__(**kwargs)
        check_num_heads(hidden_dim, num_heads, "hidden_dim")
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.layer_norm_epsilon = layer_norm_epsilon
        self.positional = positional

        # GPT adds the learned positions to unscaled token embeddings (rotary: adds none).
        self.embedding = PositionalEmbedding(
            vocabulary_size, hidden_dim, max_sequence_length, positional=positional,
            scale_embeddings=False, name="embedding", dtype=self.dtype_policy)
        self.embedding_dropout = Dropout(dropout, name="embedding_dropout")
        self.blocks = [
            CausalBlock(hidden_dim, num_heads, intermediate_dim, dropout, activation="gelu",
                        norm_first=True, layer_norm_epsilon=layer_norm_epsilon,
                        rotary=positional == "rotary", name=f"block_{i}",
                        dtype=self.dtype_policy)
            for i in range(num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="final_norm", dtype=self.dtype_policy)

    def build(self, input_shape):
        if isinstance(input_shape, dict):
            input_shape = input_shape["token_ids"]
        hidden_shape = tuple(input_shape) + (self.hidden_dim,)
        self.embedding.build(input_shape)
        for block in self.blocks:
            block.build(hidden_shape)
        self.final_norm.build(hidden_shape)
        self.built = True

    def logits(self, x):
        """Hidden states ``[B, T, H]`` → float32 logits ``[B, T, V]`` (tied embedding)."""
        table = self.embedding.token_embedding.embeddings  # (V, H)
        logits = ops.matmul(x, ops.cast(ops.transpose(table), x.dtype))
        return ops.cast(logits, "float32")

    @property
    def head_vocabulary_size(self):
        """Logits per position (``RealTokenTrainStep`` reads it)."""
        return self.vocabulary_size

    def hidden_states(self, inputs, training=None):
        """Token ids (or the dict inputs) → final-norm hidden states ``[B, T, H]``."""
        if isinstance(inputs, dict):
            token_ids = inputs["token_ids"]
            padding_mask = inputs.get("padding_mask")
            if padding_mask is None:
                padding_mask = masks.padding_mask(token_ids)
        else:
            token_ids, padding_mask = inputs, masks.padding_mask(inputs)
        length = ops.shape(token_ids)[1]
        mask = ops.logical_and(
            masks.causal_mask(length)[None],  # (1, T, T)
            ops.expand_dims(ops.cast(padding_mask, "bool"), 1))  # (B, 1, T)
        x = self.embedding_dropout(self.embedding(token_ids), training=training)
        for block in self.blocks:
            x = block(x, attention_mask=mask, training=training)  # (B, T, H)
        return self.final_norm(x)

    def call(self, inputs, training=None):
        return self.logits(self.hidden_states(inputs, training=training))

    def init_caches(self, batch_size, max_length):
        """Empty key/value caches: one ``(keys, values)`` pair per block, each
        ``[B, heads, max_length, head_dim]`` (separate tensors, so a compiled decoding loop
        updates and reads them in place)."""
        if max_length > self.max_sequence_length:
            raise TfbigError(
                f"a cache of {max_length} positions exceeds max_sequence_length "
                f"({self.max_sequence_length}); generate fewer tokens or use a shorter prompt")
        shape = (batch_size, self.num_heads, max_length, self.hidden_dim // self.num_heads)
        return [(ops.zeros(shape, dtype=self.compute_dtype),
                 ops.zeros(shape, dtype=self.compute_dtype)) for _ in self.blocks]

    def call_with_cache(self, token_ids, caches, cache_update_index):
        """Run ``token_ids [B, T]`` at positions ``cache_update_index ..`` over the cache.

        Returns ``(logits [B, T, V], new_caches)``. Every position sees the cache slots up to
        itself; the slots hold only real tokens, so no padding mask is needed. With rotary
        positions the attention layers rotate the new queries and keys by these same
        positions (the cache holds keys already rotated by theirs).
        """
        length, max_length = ops.shape(token_ids)[1], cache_length(caches[0])
        positions = ops.arange(length) + cache_update_index  # (T,)
        mask = ops.expand_dims(positions, 1) >= ops.expand_dims(
            ops.arange(max_length), 0)  # (T, T_max)
        x = self.embedding(token_ids, start_index=cache_update_index)  # (B, T, H)
        new_caches = []
        for block, cache in zip(self.blocks, caches):
            x, cache = block(x, attention_mask=mask[None], cache=cache,
                             cache_update_index=cache_update_index)
            new_caches.append(cache)
        return self.logits(self.final_norm(x)), new_caches

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            input_shape = input_shape["token_ids"]
        return tuple(input_shape) + (self.vocabulary_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size, num_layers=self.num_layers,
            num_heads=self.num_heads, hidden_dim=self.hidden_dim,
            intermediate_dim=self.intermediate_dim, dropout=self.dropout,
            max_sequence_length=self.max_sequence_length,
            layer_norm_epsilon=self.layer_norm_epsilon, positional=self.positional,
        )
        return config
