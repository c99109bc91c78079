"""Autoregressive generation: greedy, sampling (temperature, top-k, top-p), with a
key/value cache so each new token costs one decoder step, not a re-run over the prefix.

The whole loop is one ``keras.ops.while_loop`` over fixed-shape tensors, compiled once per
(model, shapes, options) with ``tf.function`` (optionally XLA). Each decoder self-attention
layer keeps a preallocated cache ``[batch, 2, heads, max_new_tokens, head_dim]`` written in
place at the current step; cross-attention keys/values of the encoder output are computed
once before the loop.
"""

import keras
from keras import ops

from tfbig.errors import TfbigError
from tfbig.layers import masks

METHODS = ("greedy", "sample")


def _next_token(logits, method, seed, temperature, top_k, top_p):
    """Pick the next token ``[batch]`` from float32 logits ``[batch, vocab]``."""
    if method == "greedy":
        return ops.cast(ops.argmax(logits, axis=-1), "int32")
    logits = logits / temperature
    if top_k:
        kth = ops.top_k(logits, k=top_k)[0][:, -1:]  # (B, 1): the k-th largest logit
        logits = ops.where(logits < kth, -1e9, logits)
    if top_p < 1.0:
        # Nucleus: keep the smallest set of tokens whose probability sum reaches top_p.
        sorted_logits = ops.flip(ops.sort(logits, axis=-1), axis=-1)  # descending
        cumulative = ops.cumsum(ops.softmax(sorted_logits, axis=-1), axis=-1)
        # The cut-off logit: the last one needed to reach top_p (always keep the first).
        cutoff_index = ops.sum(ops.cast(cumulative < top_p, "int32"), axis=-1, keepdims=True)
        cutoff = ops.take_along_axis(sorted_logits, cutoff_index, axis=-1)
        logits = ops.where(logits < cutoff, -1e9, logits)
    return ops.cast(keras.random.categorical(logits, 1, seed=seed)[:, 0], "int32")


def _transformer_step_fn(model, source_ids, max_new_tokens, use_cache):
    """Return ``(state, step)`` for the encoder-decoder :class:`tfbig.models.Transformer`.

    ``step(state, tokens_so_far, t)`` returns ``(logits [B, vocab], new_state)``.
    """
    decoder = model.decoder
    encoder_output = model.encode(source_ids, training=False)
    cross_mask = masks.key_padding_mask(source_ids)  # (B, 1, T_s)
    if not use_cache:
        def step(state, tokens, t):
            hidden = decoder(tokens, encoder_output, cross_attention_mask=cross_mask)
            logits = model.logits(ops.take(hidden, t, axis=1))  # position t predicts t + 1
            return logits, state
        return (), step

    batch = ops.shape(source_ids)[0]
    cross_caches = [block.cross_attention.project_key_value(encoder_output)
                    for block in decoder.blocks]
    head_dim = decoder.d_model // decoder.num_heads
    caches = [ops.zeros((batch, 2, decoder.num_heads, max_new_tokens, head_dim),
                        dtype=encoder_output.dtype) for _ in decoder.blocks]

    def step(state, tokens, t):
        current = ops.slice(tokens, (0, t), (batch, 1))  # (B, 1): the newest token
        hidden, new_caches = decoder(
            current, cross_attention_mask=cross_mask, caches=list(state),
            cross_attention_caches=cross_caches, start_index=t)
        return model.logits(hidden[:, 0]), tuple(new_caches)
    return tuple(caches), step


def generate(model, source_ids, max_new_tokens, start_id, end_id=None, method="greedy", *,
             temperature=1.0, top_k=0, top_p=1.0, seed=None, use_cache=True,
             jit_compile=False):
    """Generate up to ``max_new_tokens`` tokens per sequence.

    Args:
        model: a :class:`tfbig.models.Transformer` (``source_ids`` is the source sentence).
        source_ids: int ``[batch, T_s]``, 0 = padding.
        max_new_tokens: tokens to generate at most.
        start_id: the token the decoder starts from ([START]).
        end_id: stop a sequence once it emits this token (it is kept; later positions are 0).
        method: ``"greedy"`` or ``"sample"``.
        temperature, top_k, top_p: sampling options (``top_k=0`` / ``top_p=1`` = off).
        seed: int seed for sampling (same seed → same tokens).
        use_cache: False re-runs the decoder over the whole prefix each step (the slow
            reference path; the tokens are the same).
        jit_compile: XLA-compile the loop (same tokens; faster on accelerators).

    Returns:
        int32 ``[batch, max_new_tokens]``: the new tokens only.
    """
    if method not in METHODS:
        raise TfbigError(f"generation method {method!r} is not known; expected one of "
                         + ", ".join(METHODS))
    if max_new_tokens < 1:
        raise TfbigError(f"max_new_tokens must be >= 1, received {max_new_tokens}")
    if method == "sample" and temperature <= 0:
        raise TfbigError(f"temperature must be > 0 for sampling, received {temperature}")
    if not 0.0 < top_p <= 1.0:
        raise TfbigError(f"top_p must be in (0, 1], received {top_p}")
    source_ids = ops.convert_to_tensor(source_ids, dtype="int32")
    options = (max_new_tokens, start_id, end_id, method, float(temperature), int(top_k),
               float(top_p), seed, bool(use_cache), bool(jit_compile))
    cache = model.__dict__.setdefault("_tfbig_generate_functions", {})
    if options not in cache:
        if not model.built:
            model.build((tuple(source_ids.shape), (None, max_new_tokens)))
        # The random state lives outside the compiled loop (a variable made once).
        seed_generator = keras.random.SeedGenerator(seed) if method == "sample" else None
        cache[options] = _compile(lambda ids: _generate_loop(
            model, ids, max_new_tokens, start_id, end_id, method, seed_generator,
            temperature, top_k, top_p, use_cache), jit_compile)
    return cache[options](source_ids)


def _compile(function, jit_compile):
    """One graph per option set: ``tf.function`` on TensorFlow, ``jax.jit`` on JAX."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=jit_compile, reduce_retracing=True)
    if backend == "jax" and jit_compile:
        import jax

        return jax.jit(function)
    return function


def _generate_loop(model, source_ids, max_new_tokens, start_id, end_id, method,
                   seed_generator, temperature, top_k, top_p, use_cache):
    batch = ops.shape(source_ids)[0]
    state, step = _transformer_step_fn(model, source_ids, max_new_tokens, use_cache)
    # tokens[:, 0] is [START]; tokens[:, t + 1] is the t-th generated token.
    tokens = ops.concatenate([ops.full((batch, 1), start_id, "int32"),
                              ops.zeros((batch, max_new_tokens), "int32")], axis=1)
    done = ops.zeros((batch,), "bool")

    def condition(t, tokens, done, state):
        return ops.logical_and(t < max_new_tokens, ops.logical_not(ops.all(done)))

    def body(t, tokens, done, state):
        logits, state = step(state, tokens[:, :max_new_tokens], t)
        next_token = _next_token(logits, method, seed_generator, temperature, top_k, top_p)
        next_token = ops.where(done, 0, next_token)  # finished sequences emit padding
        tokens = ops.slice_update(tokens, (0, t + 1), next_token[:, None])
        if end_id is not None:
            done = ops.logical_or(done, ops.equal(next_token, end_id))
        return t + 1, tokens, done, state

    _, tokens, _, _ = ops.while_loop(
        condition, body, (ops.convert_to_tensor(0, "int32"), tokens, done, state))
    return tokens[:, 1:]
