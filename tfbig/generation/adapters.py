"""How to take one decoding step with each kind of model.

Every search (greedy, sampling, beam) runs the same fixed-shape loop over a token buffer;
what differs between models is only how the logits of the next position are computed.
:func:`prepare` turns a model and its input into a :class:`Decoding`:

* encoder-decoder (:class:`tfbig.models.Transformer`): the buffer is ``[START] y_1 … y_N``;
  the source is encoded once and its cross-attention keys/values cached.
* decoder-only (:class:`tfbig.models.GPT`, any model with ``call_with_cache`` and
  ``init_caches``): the buffer is ``prompt + N`` slots. The prompts are right-padded and
  may differ in length, so step ``t`` feeds token ``t`` of every row, which is a prompt
  token while ``t < prompt length`` (the next token is then *forced* to the prompt's) and a
  generated one after: each row continues after its own prompt.
* recurrent encoder-decoder (:class:`tfbig.models.RNNSeq2Seq`, any model with
  ``start_decoding`` and ``decode_step``): the buffer is ``[START] y_1 … y_N``; the loop
  carries the RNN states instead of a key/value cache, and the encoder's attention
  keys/values, projected once, beside them.
* any other ``model((source_ids, target_ids)) → logits`` model (and the RNN with
  ``use_cache=False``): re-run over the whole prefix each step.
"""

from typing import Callable, NamedTuple

from keras import ops

from tfbig.layers import masks


class Decoding(NamedTuple):
    """A decoding problem for a batch of ``B`` rows.

    tokens: int32 ``[B, W]`` buffer; position ``t + 1`` is written after step ``t``.
    first_new: int32 ``[B]``, the buffer position of each row's first new token (positions
        before it are forced: start token or prompt).
    num_steps: int32 scalar, the steps needed to give every row its new tokens.
    state: a tuple of batch-major tensors, or nests of them (the key/value caches as
        ``(keys, values)`` pairs), carried through the loop.
    step: ``step(state, tokens, t) → (logits [B, vocab] for position t + 1, new state)``.
    """

    tokens: object
    first_new: object
    num_steps: object
    state: tuple
    step: Callable


def is_decoder_only(model):
    """True for models that generate from a prompt with a key/value cache (GPT)."""
    return callable(getattr(model, "call_with_cache", None)) and callable(
        getattr(model, "init_caches", None))


def is_encoder_decoder(model):
    """True for a Transformer-like model decoded with a key/value cache over ``encode``."""
    return hasattr(model, "encode") and hasattr(getattr(model, "decoder", None), "blocks")


def is_recurrent(model):
    """True for an RNN encoder-decoder decoded one cell step at a time (RNNSeq2Seq)."""
    return callable(getattr(model, "start_decoding", None)) and callable(
        getattr(model, "decode_step", None))


def prepare(model, source_ids, max_new_tokens, start_id, use_cache, prompt_width=None):
    """The :class:`Decoding` of ``model`` for ``source_ids [B, T]`` (int32, 0 = padding).

    ``prompt_width`` is the static ``T`` of a decoder-only prompt (known outside a traced
    function even where the tensor's shape is relaxed to ``None``).
    """
    if is_decoder_only(model):
        return _decoder_only(model, source_ids, max_new_tokens, start_id, use_cache,
                             prompt_width)
    if is_encoder_decoder(model):
        return _encoder_decoder(model, source_ids, max_new_tokens, start_id, use_cache)
    if is_recurrent(model) and use_cache:
        return _recurrent(model, source_ids, max_new_tokens, start_id)
    return _seq2seq_uncached(model, source_ids, max_new_tokens, start_id)


def _start_buffer(batch, max_new_tokens, start_id):
    """``[START] 0 … 0``: ``[B, N + 1]``; position ``t + 1`` holds the ``t``-th new token."""
    return ops.concatenate([ops.full((batch, 1), start_id, "int32"),
                            ops.zeros((batch, max_new_tokens), "int32")], axis=1)


def _encoder_decoder(model, source_ids, max_new_tokens, start_id, use_cache):
    decoder = model.decoder
    batch = ops.shape(source_ids)[0]
    tokens = _start_buffer(batch, max_new_tokens, start_id)
    first_new = ops.ones((batch,), "int32")
    num_steps = ops.convert_to_tensor(max_new_tokens, "int32")
    encoder_output = model.encode(source_ids, training=False)
    cross_mask = masks.key_padding_mask(source_ids)  # (B, 1, T_s)
    if not use_cache:
        causal = masks.causal_mask(max_new_tokens)[None]  # (1, N, N)

        def step(state, tokens, t):
            # The whole prefix again, with a causal-only mask: a generated id 0 is a token
            # here, as it is in the cache. Later (still empty) slots are hidden by it.
            x = decoder(tokens[:, :max_new_tokens], encoder_output,
                        cross_attention_mask=cross_mask, self_attention_mask=causal)
            return model.logits(ops.take(x, t, axis=1)), state  # position t → t + 1
        return Decoding(tokens, first_new, num_steps, (), step)

    # Keys and values as separate tensors: the loop updates and reads them in place
    # (slicing them out of one stacked cache would copy half of it every step).
    cross_caches = [block.cross_attention.project_key_value(encoder_output, pair=True)
                    for block in decoder.blocks]
    head_dim = decoder.d_model // decoder.num_heads
    shape = (batch, decoder.num_heads, max_new_tokens, head_dim)
    dtype = encoder_output.dtype
    caches = tuple((ops.zeros(shape, dtype), ops.zeros(shape, dtype)) for _ in decoder.blocks)

    def step(state, tokens, t):
        current = ops.slice(tokens, (0, t), (batch, 1))  # (B, 1): the newest token
        hidden, new_caches = decoder(
            current, cross_attention_mask=cross_mask, caches=list(state),
            cross_attention_caches=cross_caches, start_index=t)
        return model.logits(hidden[:, 0]), tuple(new_caches)
    return Decoding(tokens, first_new, num_steps, caches, step)


def _decoder_only(model, prompt_ids, max_new_tokens, start_id, use_cache, prompt_width):
    batch = ops.shape(prompt_ids)[0]
    if prompt_width is None:
        prompt_width = prompt_ids.shape[1]
    if prompt_width == 0:  # no prompt at all: every row starts from [START]
        prompt_ids, prompt_width = ops.zeros((batch, 1), "int32"), 1
    lengths = ops.sum(ops.cast(masks.padding_mask(prompt_ids), "int32"), axis=1)  # (B,)
    # A row with an empty prompt starts from start_id.
    first_column = ops.expand_dims(ops.arange(prompt_width) == 0, 0)  # (1, P)
    prompt_ids = ops.where(ops.logical_and(first_column, ops.expand_dims(lengths == 0, 1)),
                           start_id, prompt_ids)
    lengths = ops.maximum(lengths, 1)
    tokens = ops.concatenate([ops.cast(prompt_ids, "int32"),
                              ops.zeros((batch, max_new_tokens), "int32")], axis=1)
    num_steps = ops.max(lengths) + max_new_tokens - 1
    fed = prompt_width + max_new_tokens - 1  # positions ever fed to the model

    if not use_cache:
        def step(state, tokens, t):
            # Only the causal mask: a generated id 0 is a token here, not padding.
            inputs = {"token_ids": tokens[:, :fed], "padding_mask": ops.ones((batch, fed), "bool")}
            return ops.take(model(inputs, training=False), t, axis=1), state
        return Decoding(tokens, lengths, num_steps, (), step)

    caches = tuple(model.init_caches(batch, fed))

    def step(state, tokens, t):
        current = ops.slice(tokens, (0, t), (batch, 1))  # (B, 1): token t of every row
        logits, new_caches = model.call_with_cache(current, list(state), t)
        return logits[:, 0], tuple(new_caches)
    return Decoding(tokens, lengths, num_steps, caches, step)


def _seq2seq_uncached(model, source_ids, max_new_tokens, start_id):
    batch = ops.shape(source_ids)[0]

    def step(state, tokens, t):
        logits = model((source_ids, tokens[:, :max_new_tokens]), training=False)
        return ops.take(logits, t, axis=1), state
    return Decoding(_start_buffer(batch, max_new_tokens, start_id), ops.ones((batch,), "int32"),
                    ops.convert_to_tensor(max_new_tokens, "int32"), (), step)


def _recurrent(model, source_ids, max_new_tokens, start_id):
    batch = ops.shape(source_ids)[0]
    states, keys_values, source_mask = model.start_decoding(source_ids)

    def step(states, tokens, t):
        current = ops.take(tokens, t, axis=1)  # (B,): the newest token
        return model.decode_step(current, states, keys_values, source_mask)
    return Decoding(_start_buffer(batch, max_new_tokens, start_id), ops.ones((batch,), "int32"),
                    ops.convert_to_tensor(max_new_tokens, "int32"), states, step)
