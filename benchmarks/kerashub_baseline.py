"""A second baseline: the reference Transformer from KerasHub's layers, decoded with its cache.

What someone would write with KerasHub instead of the TensorFlow tutorial (the issue's
"KerasHub TransformerEncoder/Decoder" row, ~910 tok/s training, ~740 tok/s cached greedy):

* ``keras_hub.layers.TokenAndPositionEmbedding`` (learned positions, as KerasHub has them)
  and dropout on the embeddings, for the source and the target;
* ``keras_hub.layers.TransformerEncoder`` / ``TransformerDecoder`` with
  ``normalize_first=False`` (post-norm, like the tutorial), ``intermediate_dim=dff``, the
  same dropout everywhere (attention weights and the three residual branches);
  head size ``d_model // num_heads`` (KerasHub's own choice, same as the baseline's);
* a ``Dense(target_vocab)`` output, compiled exactly as the tutorial baseline
  (``baseline_tutorial.compile_like_tutorial``: masked loss / accuracy, Adam with the
  warm-up schedule), so the two baselines differ only in their layers;
* padding masks passed explicitly (``padding_mask`` / ``decoder_padding_mask`` /
  ``encoder_padding_mask``), as the tutorial baseline passes its masks.

Greedy decoding follows ``keras_hub.models.BartSeq2SeqLM.generate_step`` step for step:
the prompt is ``[start, 0, …, 0]`` padded to ``1 + max_new_tokens``; the encoder runs once;
empty self-/cross-attention caches ``[B, layers, 2, length, heads, head_dim]`` are seeded
by one decoder pass over the whole padded prompt (``cache_update_index=0``, as BART's
``_build_cache`` does); then ``keras_hub.samplers.GreedySampler`` (KerasHub's own
``while_loop``, softmax + argmax) feeds one token per step through
``TransformerDecoder(..., self_attention_cache=..., self_attention_cache_update_index=i,
cross_attention_cache=..., cross_attention_cache_update_index=None)``. The whole loop is
one ``tf.function``, XLA off or on (KerasHub's ``CausalLM``/``Seq2SeqLM`` compile theirs
with ``jit_compile=True`` by default).

``use_cache=False`` is the same sampler loop re-running the decoder (no cache) over the
whole padded prompt each step and taking the logits at the step's position: the reference
the cached tokens are checked against, XLA off and on.

Everything here needs ``keras_hub``; :func:`unavailable` says why it cannot be imported, so
the benchmarks skip KerasHub rows instead of failing.
"""

import keras
import tensorflow as tf


def unavailable():
    """``None`` if ``keras_hub`` imports, else a one-line reason (for a skipped row)."""
    try:
        import keras_hub  # noqa: F401
    except Exception as error:  # ImportError, or a missing/incompatible dependency
        return f"keras_hub is not importable ({type(error).__name__}: {error})"
    return None


class KerasHubTransformer(keras.Model):
    """Encoder-decoder from KerasHub layers; ``model((source, target_in))`` → logits.

    ``max_length`` sizes the learned position tables (source and target); generation needs
    ``1 + max_new_tokens`` target positions.
    """

    def __init__(self, *, num_layers, d_model, num_heads, dff, input_vocab_size,
                 target_vocab_size, dropout_rate=0.1, max_length=128, **kwargs):
        import keras_hub

        super().__init__(**kwargs)
        self.num_layers, self.d_model, self.num_heads = num_layers, d_model, num_heads
        self.max_length = max_length
        self.encoder_embedding = keras_hub.layers.TokenAndPositionEmbedding(
            input_vocab_size, max_length, d_model, name="encoder_embedding")
        self.decoder_embedding = keras_hub.layers.TokenAndPositionEmbedding(
            target_vocab_size, max_length, d_model, name="decoder_embedding")
        self.encoder_dropout = keras.layers.Dropout(dropout_rate)
        self.decoder_dropout = keras.layers.Dropout(dropout_rate)
        self.encoder_layers = [
            keras_hub.layers.TransformerEncoder(dff, num_heads, dropout=dropout_rate,
                                                normalize_first=False, name=f"encoder_{i}")
            for i in range(num_layers)]
        self.decoder_layers = [
            keras_hub.layers.TransformerDecoder(dff, num_heads, dropout=dropout_rate,
                                                normalize_first=False, name=f"decoder_{i}")
            for i in range(num_layers)]
        self.final_layer = keras.layers.Dense(target_vocab_size, name="logits")

    def call_encoder(self, source, source_mask, training=None):
        x = self.encoder_dropout(self.encoder_embedding(source), training=training)
        for layer in self.encoder_layers:
            x = layer(x, padding_mask=source_mask, training=training)
        return x

    def call_decoder(self, target, context, source_mask, target_mask=None, training=None):
        """The decoder without a cache (training, and uncached decoding with no mask)."""
        x = self.decoder_dropout(self.decoder_embedding(target), training=training)
        for layer in self.decoder_layers:
            x = layer(x, context, decoder_padding_mask=target_mask,
                      encoder_padding_mask=source_mask, training=training)
        return self.final_layer(x)

    def call_decoder_with_cache(self, target, context, source_mask, self_cache,
                                self_index, cross_cache, cross_index):
        """``BartSeq2SeqLM.call_decoder_with_cache``: → (logits, self cache, cross cache)."""
        x = self.decoder_embedding(target, start_index=self_index)
        x = self.decoder_dropout(x, training=False)
        self_caches, cross_caches = [], []
        for i, layer in enumerate(self.decoder_layers):
            x, next_self, next_cross = layer(
                x, context, encoder_padding_mask=source_mask,
                self_attention_cache=self_cache[:, i, ...],
                self_attention_cache_update_index=self_index,
                cross_attention_cache=cross_cache[:, i, ...],
                cross_attention_cache_update_index=cross_index, training=False)
            self_caches.append(next_self)
            cross_caches.append(next_cross)
        if self_index is not None:
            self_cache = keras.ops.stack(self_caches, axis=1)
        if cross_index is not None:
            cross_cache = keras.ops.stack(cross_caches, axis=1)
        return self.final_layer(x), self_cache, cross_cache

    def call(self, inputs, training=None):
        source, target = inputs
        source_mask = tf.not_equal(source, 0)  # (B, S) key padding
        target_mask = tf.not_equal(target, 0)  # (B, T)
        context = self.call_encoder(source, source_mask, training)
        return self.call_decoder(target, context, source_mask, target_mask, training)


def build(num_layers=4, d_model=256, num_heads=8, dff=1024, input_vocab_size=8000,
          target_vocab_size=8000, dropout_rate=0.1, max_length=128):
    """The KerasHub model, uncompiled (compile it with
    ``baseline_tutorial.compile_like_tutorial``)."""
    return KerasHubTransformer(num_layers=num_layers, d_model=d_model, num_heads=num_heads,
                               dff=dff, input_vocab_size=input_vocab_size,
                               target_vocab_size=target_vocab_size, dropout_rate=dropout_rate,
                               max_length=max_length)


class Generator(tf.Module):
    """Greedy decoding as ``BartSeq2SeqLM.generate`` does it, inside one ``tf.function``.

    ``generator(source_ids)`` → int32 ``[batch, max_new_tokens]``; no end token (always
    ``max_new_tokens`` steps, like the tutorial ``Translator`` and tfbig's ``generate``).
    ``use_cache=False`` re-runs the decoder over the whole padded prompt every step.
    """

    def __init__(self, model, max_new_tokens, start_id, use_cache=True, jit_compile=False):
        import keras_hub

        super().__init__()
        if max_new_tokens + 1 > model.max_length:
            raise ValueError(f"1 + max_new_tokens = {max_new_tokens + 1} positions exceed "
                             f"the model's max_length {model.max_length}")
        self.model = model
        self.max_new_tokens = max_new_tokens
        self.start_id = start_id
        self.sampler = keras_hub.samplers.GreedySampler()
        self.run = tf.function(self._cached if use_cache else self._uncached,
                               jit_compile=jit_compile)

    def _prompt(self, source):
        """``[start, 0, …, 0]`` and BART's ``decoder_padding_mask`` (True = given token)."""
        batch = tf.shape(source)[0]
        prompt = tf.concat([tf.fill([batch, 1], self.start_id),
                            tf.zeros([batch, self.max_new_tokens], tf.int32)], axis=1)
        mask = tf.concat([tf.ones([batch, 1], tf.bool),
                          tf.zeros([batch, self.max_new_tokens], tf.bool)], axis=1)
        return prompt, mask

    def _cached(self, source):
        model = self.model
        source_mask = tf.not_equal(source, 0)
        prompt, prompt_mask = self._prompt(source)
        context = model.call_encoder(source, source_mask, training=False)
        # BartSeq2SeqLM._initialize_cache / _build_cache: zeros, then one seeding pass.
        batch, head_dim = tf.shape(source)[0], model.d_model // model.num_heads
        shape = [batch, model.num_layers, 2, 1 + self.max_new_tokens, model.num_heads,
                 head_dim]
        self_cache = tf.zeros(shape, model.compute_dtype)
        shape[3] = tf.shape(source)[1]
        cross_cache = tf.zeros(shape, model.compute_dtype)
        _, self_cache, cross_cache = model.call_decoder_with_cache(
            prompt, context, source_mask, self_cache, 0, cross_cache, 0)

        def next(prompt, cache, index):
            cache_index = index - 1  # the cache position of the previous token
            self_cache, context, source_mask, cross_cache = cache
            token = tf.slice(prompt, [0, cache_index], [tf.shape(prompt)[0], 1])
            logits, self_cache, _ = model.call_decoder_with_cache(
                token, context, source_mask, self_cache, cache_index, cross_cache, None)
            return logits[:, 0, :], None, (self_cache, context, source_mask, cross_cache)

        output = self.sampler(next=next, prompt=prompt,
                              cache=(self_cache, context, source_mask, cross_cache),
                              index=1, mask=prompt_mask, model=model)
        return output[:, 1:]

    def _uncached(self, source):
        model = self.model
        source_mask = tf.not_equal(source, 0)
        prompt, prompt_mask = self._prompt(source)
        context = model.call_encoder(source, source_mask, training=False)

        def next(prompt, cache, index):
            context, source_mask = cache
            logits = model.call_decoder(prompt, context, source_mask, training=False)
            return tf.gather(logits, index - 1, axis=1), None, cache

        output = self.sampler(next=next, prompt=prompt, cache=(context, source_mask),
                              index=1, mask=prompt_mask, model=model)
        return output[:, 1:]

    def __call__(self, source_ids):
        return self.run(tf.convert_to_tensor(source_ids, tf.int32))
