"""The decoder stack: embed the target, then ``num_layers`` decoder blocks."""

import keras
from keras import ops

from tfbig.layers import masks
from tfbig.layers.decoder_block import DecoderBlock
from tfbig.layers.multi_head_attention import cache_length
from tfbig.layers.stack import BlockStack


@keras.saving.register_keras_serializable(package="tfbig")
class Decoder(BlockStack):
    """``target ids [batch, T_t]`` + encoder output → ``[batch, T_t, d_model]``.

    Args: as :class:`tfbig.layers.Encoder` (``vocabulary_size`` is the target vocabulary).

    Call arguments:
        token_ids: target ids ``[batch, T_t]``, shifted right (they start with [START]).
        encoder_output: ``[batch, T_s, d_model]``.
        cross_attention_mask: bool broadcastable to ``[batch, T_t, T_s]``, usually
            ``masks.key_padding_mask(source_ids)``.
        caches: for incremental decoding, one self-attention cache per layer (a list; each
            ``[batch, 2, heads, T_max, head_dim]`` or a ``(keys, values)`` pair, see
            :class:`MultiHeadAttention`), written at ``start_index``.
        cross_attention_caches: one precomputed cross-attention cache per layer.
        start_index: position of ``token_ids[:, 0]`` in the whole target sequence.
        self_attention_mask: replaces the default causal + padding mask (generation
            without a cache uses a causal-only mask: a generated id 0 is a token there).

    Returns ``x``, or ``(x, new_caches)`` when ``caches`` is given; attention weights are
    appended (a list of per-layer dicts) when ``return_attention_scores``.
    """

    block_class = DecoderBlock

    def build(self, token_ids_shape, encoder_output_shape=None):
        # Keras matches build's argument names to call's: token_ids → token_ids_shape.
        self.build_stack(token_ids_shape, encoder_output_shape)

    def call(self, token_ids, encoder_output=None, cross_attention_mask=None, training=None,
             caches=None, cross_attention_caches=None, start_index=0,
             self_attention_mask=None, return_attention_scores=False):
        x = self.embedding(token_ids, start_index=start_index)
        x = self.embedding_dropout(x, training=training)
        if self_attention_mask is not None:
            self_mask = self_attention_mask  # the caller's (e.g. causal only, no padding)
        elif caches is None:
            self_mask = masks.decoder_self_attention_mask(token_ids)  # (B, T_t, T_t)
        else:
            # Queries are positions start_index.. of a cache of T_max slots: each sees the
            # slots up to itself. Padding never enters the cache, so no padding mask.
            length, max_length = ops.shape(token_ids)[1], cache_length(caches[0])
            positions = ops.arange(length) + start_index
            self_mask = ops.expand_dims(positions, 1) >= ops.expand_dims(
                ops.arange(max_length), 0)  # (T_t, T_max)
        new_caches, all_weights = [], []
        for i, block in enumerate(self.blocks):
            outputs = block(
                x, encoder_output, self_attention_mask=self_mask,
                cross_attention_mask=cross_attention_mask, training=training,
                self_attention_cache=None if caches is None else caches[i],
                cache_update_index=None if caches is None else start_index,
                cross_attention_cache=(
                    None if cross_attention_caches is None else cross_attention_caches[i]),
                return_attention_scores=True)
            if caches is None:
                x, weights = outputs
            else:
                x, cache, weights = outputs
                new_caches.append(cache)
            all_weights.append(weights)
        results = (self.apply_final_norm(x),)
        if caches is not None:
            results += (new_caches,)
        if return_attention_scores:
            results += (all_weights,)
        return results[0] if len(results) == 1 else results
