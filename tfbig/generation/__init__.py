"""Autoregressive generation: greedy, sampling (temperature, top-k, top-p) and beam search,
with a key/value cache so each new token costs one decoder step, not a re-run over the prefix.

The whole loop is one ``keras.ops.while_loop`` over fixed-shape tensors, compiled once per
(model, shapes, options) with ``tf.function``, XLA by default. Each self-attention layer
keeps preallocated keys and values, a pair of ``[batch, heads, T_max, head_dim]`` tensors
written in place at the current step; cross-attention keys/values of an encoder output
are computed once before the loop. An RNN encoder-decoder carries its states instead.

Read in this order: ``generator`` (``generate``, the entry point), ``adapters`` (one
decoding step of each kind of model), ``sampling`` (greedy/sampling loop), ``beam_search``.
"""

from tfbig.generation.generator import METHODS, WIDTH_BUCKET, generate, use_xla

__all__ = ["METHODS", "WIDTH_BUCKET", "generate", "use_xla"]
