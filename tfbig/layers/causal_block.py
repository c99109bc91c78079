"""One decoder-only (GPT) layer: causal self-attention, then feed-forward.

It is an :class:`EncoderBlock` whose self-attention may read and write a key/value cache,
exactly as the self-attention of :class:`DecoderBlock` does, so a decoder-only model can
generate one token per step. The causality itself is in the mask the model passes in.

Reference: Radford et al. 2018/2019 (GPT, GPT-2),
https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf
"""

import keras

from tfbig.layers.encoder_block import EncoderBlock


@keras.saving.register_keras_serializable(package="tfbig")
class CausalBlock(EncoderBlock):
    """Masked self-attention (optionally cached) and a feed-forward network.

    Args: as :class:`tfbig.layers.EncoderBlock`; GPT uses ``activation="gelu"`` and
    ``norm_first=True`` (pre-norm: ``x = x + Dropout(Sublayer(LayerNorm(x)))``).

    Call arguments:
        x: ``[batch, T, d_model]``.
        attention_mask: bool broadcastable to ``[batch, T, T_k]`` (True = may attend):
            causal + key padding without a cache (``masks.decoder_self_attention_mask``),
            "slot <= position" over the ``T_max`` cache slots with one.
        cache: keys/values of the tokens so far, ``[batch, 2, heads, T_max, head_dim]``
            or a ``(keys, values)`` pair of ``[batch, heads, T_max, head_dim]``.
        cache_update_index: position of ``x[:, 0]``; its keys/values are written there.
        return_attention_scores: also return the weights ``[batch, heads, T, T_k]``.

    Returns ``x``; with ``cache``, ``(x, new_cache)``; with ``return_attention_scores``,
    the weights are appended.

    Example:
        >>> import numpy as np
        >>> from tfbig.layers import masks
        >>> block = CausalBlock(d_model=8, num_heads=2, dff=16, norm_first=True)
        >>> x = np.ones((1, 4, 8), "float32")
        >>> tuple(block(x, attention_mask=masks.causal_mask(4)[None]).shape)
        (1, 4, 8)

    Reference: Radford et al. 2019 (GPT-2), https://openai.com/research/better-language-models
    """

    def call(self, x, attention_mask=None, training=None, cache=None, cache_update_index=None,
             return_attention_scores=False):
        # Sublayer 1: causal self-attention, reading/writing the cache when there is one.
        if cache is not None and cache_update_index is None:
            cache_update_index = 0
        h = self.attention_norm(x) if self.norm_first else x
        outputs = self.self_attention(
            h, attention_mask=attention_mask, training=training, cache=cache,
            cache_update_index=cache_update_index,
            return_attention_scores=True)
        if cache is not None:
            h, cache, weights = outputs
        else:
            h, weights = outputs
        x = x + self.attention_residual_dropout(h, training=training)
        if not self.norm_first:
            x = self.attention_norm(x)

        # Sublayer 2: position-wise feed-forward.
        h = self.feed_forward_norm(x) if self.norm_first else x
        x = x + self.feed_forward_residual_dropout(self.feed_forward(h), training=training)
        if not self.norm_first:
            x = self.feed_forward_norm(x)

        results = (x,)
        if cache is not None:
            results += (cache,)
        if return_attention_scores:
            results += (weights,)
        return results[0] if len(results) == 1 else results
