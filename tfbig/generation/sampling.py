"""Greedy decoding and sampling (temperature, top-k, top-p): one token per row per step."""

import keras
from keras import ops

from tfbig.generation import cutoffs
from tfbig.ops import argmax

NEGATIVE = -1e9  # a finite "minus infinity" for logits


def next_token(logits, method, seed, temperature, top_k, top_p, sort_free=False):
    """Pick the next token ``[batch]`` from float32 logits ``[batch, vocab]``.

    ``sort_free``: find the top-k / top-p cut-offs by bisection (:mod:`.cutoffs`; the
    same tokens), which XLA compiles far better than a sort on CPUs.
    """
    if method == "greedy":
        return argmax(logits, axis=-1)
    logits = logits / temperature
    if top_k:
        if sort_free:
            keep = cutoffs.top_k_mask(logits, top_k)
        else:
            keep = logits >= ops.top_k(logits, k=top_k)[0][:, -1:]  # ≥ the k-th largest
        logits = ops.where(keep, logits, NEGATIVE)
    if top_p < 1.0:
        # Nucleus: keep the smallest set of tokens whose probability sum reaches top_p.
        if sort_free:
            keep = cutoffs.top_p_mask(logits, top_p)
        else:
            sorted_logits = ops.flip(ops.sort(logits, axis=-1), axis=-1)  # descending
            cumulative = ops.cumsum(ops.softmax(sorted_logits, axis=-1), axis=-1)
            # The cut-off logit: the last one needed to reach top_p (always keep the first).
            cutoff_index = ops.sum(ops.cast(cumulative < top_p, "int32"), axis=-1,
                                   keepdims=True)
            keep = logits >= ops.take_along_axis(sorted_logits, cutoff_index, axis=-1)
        logits = ops.where(keep, logits, NEGATIVE)
    return ops.cast(keras.random.categorical(logits, 1, seed=seed)[:, 0], "int32")


def new_tokens(tokens, first_new, max_new_tokens):
    """The generated part of the buffer: ``tokens[b, first_new[b] : first_new[b] + N]``."""
    index = ops.expand_dims(first_new, 1) + ops.expand_dims(
        ops.arange(max_new_tokens, dtype="int32"), 0)  # (B, N)
    return ops.take_along_axis(tokens, index, axis=1)


def sampling_loop(decoding, max_new_tokens, end_id, pick):
    """Run ``decoding`` choosing each new token with ``pick(logits) → [B]``.

    Returns int32 ``[B, max_new_tokens]``, 0 after a row's ``end_id``.
    """
    tokens, first_new, num_steps, state, step = decoding
    done = ops.zeros((ops.shape(tokens)[0],), "bool")

    def condition(t, tokens, done, state):
        return ops.logical_and(t < num_steps, ops.logical_not(ops.all(done)))

    def body(t, tokens, done, state):
        logits, state = step(state, tokens, t)  # (B, V): predicts position t + 1
        forced = t + 1 < first_new  # (B,): position t + 1 is still the row's prompt
        token = ops.where(done, 0, pick(logits))  # finished rows emit padding
        token = ops.where(forced, ops.take(tokens, t + 1, axis=1), token)
        tokens = ops.slice_update(tokens, (0, t + 1), token[:, None])
        if end_id is not None:
            done = ops.logical_or(
                done, ops.logical_and(ops.logical_not(forced), ops.equal(token, end_id)))
        return t + 1, tokens, done, state

    _, tokens, _, _ = ops.while_loop(
        condition, body, (ops.convert_to_tensor(0, "int32"), tokens, done, state))
    return new_tokens(tokens, first_new, max_new_tokens)
