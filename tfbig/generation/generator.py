"""``generate``: the one entry point of autoregressive decoding (greedy, sampling, beam).

It checks the lengths, pads the source to a width bucket, builds the model's decoding
step (``adapters``) and runs the loop (``sampling`` or ``beam_search``), compiled once per
(model, shapes, options) with ``tf.function``, XLA by default.
"""

import keras
from keras import ops

from tfbig.errors import TfbigError
from tfbig.generation.adapters import is_decoder_only, is_encoder_decoder, prepare
from tfbig.generation.beam_search import beam_loop
from tfbig.generation.sampling import next_token, sampling_loop

METHODS = ("greedy", "sample", "beam")


def generate(model, source_ids, max_new_tokens, start_id, end_id=None, method="greedy", *,
             temperature=1.0, top_k=0, top_p=1.0, seed=None, beam_size=4,
             length_penalty=0.6, use_cache=True, jit_compile="auto"):
    """Generate up to ``max_new_tokens`` tokens per sequence.

    Args:
        model: a :class:`tfbig.models.Transformer` (``source_ids`` is the source sentence),
            a decoder-only model such as :class:`tfbig.models.GPT` (``source_ids`` is the
            prompt: right-padded, rows may differ in length; each row continues after its
            own prompt), or another ``model((source_ids, target_ids))`` sequence-to-sequence
            model such as :class:`tfbig.models.RNNSeq2Seq` (its cache: the RNN states).
        source_ids: int ``[batch, T]``, 0 = padding.
        max_new_tokens: tokens to generate at most.
        start_id: the token the decoder starts from ([START]); for a decoder-only model,
            the token a row with an empty prompt starts from.
        end_id: stop a sequence once it emits this token (it is kept; later positions are 0).
        method: ``"greedy"``, ``"sample"`` or ``"beam"``.
        temperature, top_k, top_p: sampling options (``top_k=0`` / ``top_p=1`` = off).
        seed: int seed for sampling (same seed → same tokens).
        beam_size: beams kept per sequence (``method="beam"``); 1 is greedy decoding.
        length_penalty: GNMT's α: beams are ranked by ``log P / ((5 + length) / 6) ** α``
            (0 = plain log-probability).
        use_cache: False re-runs the decoder over the whole prefix each step (the slow
            reference path; the tokens are the same).
        jit_compile: XLA-compile the loop: ``True``, ``False`` or ``"auto"`` (XLA on
            TensorFlow; see :func:`use_xla`). Greedy and beam search give the same tokens
            either way; sampling draws its random numbers differently under XLA, so a seed
            repeats its tokens for the same setting. Under XLA each new input shape
            compiles anew, so source and prompt widths are padded up to a multiple of
            :data:`WIDTH_BUCKET` (padding changes no token).

    Returns:
        int32 ``[batch, max_new_tokens]``: the new tokens only (the best beam's for
        ``"beam"``).

    Example:
        >>> import numpy as np
        >>> from tfbig.models import GPT
        >>> model = GPT(vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=8,
        ...             intermediate_dim=16)
        >>> prompts = np.array([[7, 8, 9], [7, 0, 0]], "int32")  # lengths 3 and 1
        >>> tuple(generate(model, prompts, max_new_tokens=4, start_id=2).shape)
        (2, 4)
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
    if method == "beam" and (int(beam_size) != beam_size or beam_size < 1):
        raise TfbigError(f"beam_size must be an integer >= 1, received {beam_size}")
    if method == "beam" and length_penalty < 0:
        raise TfbigError(f"length_penalty must be >= 0, received {length_penalty}")
    if jit_compile not in (True, False, "auto"):
        raise TfbigError(f"jit_compile must be True, False or 'auto', received {jit_compile!r}")
    source_ids = ops.convert_to_tensor(source_ids, dtype="int32")
    if len(source_ids.shape) != 2:
        raise TfbigError(f"source_ids must be [batch, length] token ids, received shape "
                         f"{tuple(source_ids.shape)}")
    _check_lengths(model, source_ids, max_new_tokens)
    jit_compile = use_xla(jit_compile)
    source_ids = _pad_to_bucket(model, source_ids, max_new_tokens, jit_compile)
    prompt_width = int(source_ids.shape[1]) if is_decoder_only(model) else None
    # Not the seed itself: a new seed restarts the random state, not the compilation.
    options = (max_new_tokens, start_id, end_id, method, float(temperature), int(top_k),
               float(top_p), seed is None, int(beam_size), float(length_penalty),
               bool(use_cache), bool(jit_compile), prompt_width)
    cache = model.__dict__.setdefault("_tfbig_generate_functions", {})
    seeds = model.__dict__.setdefault("_tfbig_generate_seeds", {})
    if options not in cache:
        if not model.built:
            _build(model, source_ids, max_new_tokens)
        if method == "beam":
            def function(ids):
                ids = ops.repeat(ids, int(beam_size), axis=0)  # row b*K + k: beam k of b
                decoding = prepare(model, ids, max_new_tokens, start_id, use_cache,
                                   prompt_width)
                return beam_loop(decoding, int(beam_size), max_new_tokens, end_id,
                                 float(length_penalty))
        else:
            # The random state lives outside the compiled loop (a variable made once).
            seed_generator = keras.random.SeedGenerator(seed) if method == "sample" else None
            seeds[options] = seed_generator

            def pick(logits):
                return next_token(logits, method, seed_generator, temperature, top_k, top_p,
                                  sort_free=jit_compile)

            def function(ids):
                decoding = prepare(model, ids, max_new_tokens, start_id, use_cache,
                                   prompt_width)
                return sampling_loop(decoding, max_new_tokens, end_id, pick)
        cache[options] = _compile(function, jit_compile)
    if seed is not None and seeds.get(options) is not None:
        # Same seed, same tokens: start the random state at the seed (the state is a
        # variable read by the compiled loop, so a new seed needs no new compile).
        state = seeds[options].state
        state.assign(ops.convert_to_tensor([seed, 0], dtype=state.dtype))
    return cache[options](source_ids)


def use_xla(jit_compile):
    """``generate``'s ``jit_compile`` → a bool; ``"auto"`` is XLA on TensorFlow. (On JAX the
    loop is a ``lax.while_loop``, compiled either way; ``True`` also jits the whole call.)

    Measured on a 2-core CPU, batch 8, 64 new tokens (``benchmarks/generation_throughput.py``,
    docs/benchmarks.md), XLA against TensorFlow's kernels: greedy 2.1× faster, beam search
    1.4×, top-k sampling 1.5×, top-p 1.7× (its cut-offs found without a sort:
    :mod:`tfbig.generation.cutoffs`), for about the same first call (the XLA compile costs
    what tracing the loop does). GPUs and TPUs were not measured here.
    """
    if jit_compile != "auto":
        return bool(jit_compile)
    return keras.backend.backend() == "tensorflow"


WIDTH_BUCKET = 16  # source / prompt widths are padded up to a multiple of this


def _pad_to_bucket(model, source_ids, max_new_tokens, jit_compile):
    """Right-pad ``source_ids`` with 0 to the next multiple of :data:`WIDTH_BUCKET` (at most
    what the position tables allow), so that widths 17…32 share one compiled function.

    Only where a width compiles anew: under XLA (one program per shape) and for decoder-only
    models (the prompt width sizes the cache). Padding changes no token: the encoder's keys
    are masked, and a decoder-only row continues after its own prompt. Other models
    (``RNNSeq2Seq``) are left as they are: their source widths are the caller's.
    """
    decoder_only = is_decoder_only(model)
    if not (decoder_only or (jit_compile and is_encoder_decoder(model))):
        return source_ids
    width = source_ids.shape[1]
    if width is None:  # unknown until run time (a traced caller): nothing to bucket
        return source_ids
    if decoder_only:
        context = getattr(model, "max_sequence_length", None)
        limit = None if context is None else context - max_new_tokens + 1
    else:
        limit = getattr(model, "max_length", None)
    bucket = -(-width // WIDTH_BUCKET) * WIDTH_BUCKET
    if limit is not None:
        bucket = min(bucket, int(limit))
    if bucket <= width:
        return source_ids
    return ops.pad(source_ids, ((0, 0), (0, bucket - width)))


def _check_lengths(model, source_ids, max_new_tokens):
    """Raise :class:`TfbigError` where the position tables are too short."""
    if not is_decoder_only(model):
        max_length = getattr(model, "max_length", None)  # the Transformer's position table
        if max_length is not None and max(max_new_tokens, source_ids.shape[1]) > max_length:
            raise TfbigError(
                f"max_new_tokens {max_new_tokens} and the source length "
                f"{source_ids.shape[1]} must be <= the model's max_length ({max_length}); "
                f"generate fewer tokens or shorten the source")
        return
    prompt_width = int(source_ids.shape[1])
    context = getattr(model, "max_sequence_length", None)
    if context is not None and max(prompt_width, 1) + max_new_tokens - 1 > context:
        raise TfbigError(
            f"prompt length {prompt_width} + max_new_tokens {max_new_tokens} - 1 exceeds "
            f"the model's max_sequence_length ({context}); shorten the prompt or generate "
            f"fewer tokens")


def _build(model, source_ids, max_new_tokens):
    """Create an unbuilt model's weights (generation calls its parts, not the model)."""
    if is_decoder_only(model):
        model.build(tuple(source_ids.shape))
    else:
        model.build((tuple(source_ids.shape), (None, max_new_tokens)))


def _compile(function, jit_compile):
    """One graph per option set: ``tf.function`` on TensorFlow, ``jax.jit`` on JAX."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=jit_compile, reduce_retracing=True)
    if backend == "jax" and jit_compile:
        from tfbig import optional

        return optional.require("jax").jit(function)
    return function
