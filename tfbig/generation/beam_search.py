"""Beam search: keep the ``K`` best partial sequences of every row, not just one.

At each step every beam is extended by every token; of the ``K × V`` candidates the ``K``
best (by the length-normalised log-probability below) survive, and the caches are
reordered to follow their parents. A beam that has emitted ``end_id`` is finished: it can
only be "extended" by padding at no cost, so it keeps its score and competes with the open
beams until the end. The answer is the best of the final ``K`` beams.

Length normalisation (GNMT, Wu et al. 2016, section 7, https://arxiv.org/abs/1609.08144):

    score(Y) = log P(Y) / lp(Y),   lp(Y) = ((5 + |Y|) / 6) ** α

``α = 0`` ranks by plain log-probability; "Attention Is All You Need" used beam size 4 and
``α = 0.6``. With ``beam_size=1`` this is exactly greedy decoding.
"""

import keras
from keras import ops

from tfbig.generation.sampling import NEGATIVE, new_tokens


def length_penalty_of(lengths, alpha):
    """GNMT's ``((5 + length) / 6) ** α`` as float32."""
    return ops.power((5.0 + ops.cast(lengths, "float32")) / 6.0, alpha)


def beam_loop(decoding, beam_size, max_new_tokens, end_id, alpha):
    """Beam search over ``decoding``, whose rows are each input row repeated ``beam_size``
    times (row ``b * K + k`` is beam ``k`` of input ``b``). Returns ``[B, max_new_tokens]``.
    """
    tokens, first_new, num_steps, state, step = decoding
    k = beam_size
    batch = ops.shape(tokens)[0] // k
    first_new = ops.reshape(first_new, (batch, k))[:, 0]  # (B,): the same for every beam
    # Only beam 0 is alive at first, so the K beams do not all start as copies of one.
    scores = ops.tile(ops.convert_to_tensor([[0.0] + [NEGATIVE] * (k - 1)]), (batch, 1))
    lengths = ops.zeros((batch, k), "int32")  # generated tokens, end_id included
    done = ops.zeros((batch, k), "bool")

    def condition(t, tokens, scores, lengths, done, state):
        return ops.logical_and(t < num_steps, ops.logical_not(ops.all(done)))

    def body(t, tokens, scores, lengths, done, state):
        logits, state = step(state, tokens, t)  # (B*K, V)
        vocabulary = logits.shape[-1]
        log_probs = ops.reshape(ops.log_softmax(logits, axis=-1), (batch, k, vocabulary))
        # A finished beam's only continuation is padding (id 0), at no cost.
        pad_only = ops.where(ops.arange(vocabulary) == 0, 0.0, NEGATIVE)  # (V,)
        log_probs = ops.where(done[..., None], pad_only, log_probs)  # (B, K, V)
        candidates = ops.reshape(scores[..., None] + log_probs, (batch, k * vocabulary))
        candidate_lengths = ops.reshape(ops.broadcast_to(
            (lengths + ops.cast(ops.logical_not(done), "int32"))[..., None],
            (batch, k, vocabulary)), (batch, k * vocabulary))
        ranking = candidates / length_penalty_of(candidate_lengths, alpha)
        _, best = ops.top_k(ranking, k=k)  # (B, K) indices into K * V
        parent, token = best // vocabulary, ops.cast(best % vocabulary, "int32")
        new_scores = ops.take_along_axis(candidates, best, axis=1)
        new_lengths = ops.take_along_axis(candidate_lengths, best, axis=1)
        new_done = ops.take_along_axis(done, parent, axis=1)
        if end_id is not None:
            new_done = ops.logical_or(new_done, ops.equal(token, end_id))

        # Rows still reading their prompt, or past their last new token (decoder-only models
        # with prompts of different lengths), keep their beams as they are.
        position = t + 1
        forced = ops.logical_or(position < first_new,
                                position >= first_new + max_new_tokens)[:, None]  # (B, 1)
        parent = ops.where(forced, ops.arange(k)[None], parent)
        scores = ops.where(forced, scores, new_scores)
        lengths = ops.where(forced, lengths, new_lengths)
        done = ops.where(forced, done, new_done)

        # Reorder the buffer and the caches to follow the surviving beams' parents.
        rows = ops.reshape(ops.arange(batch)[:, None] * k + parent, (-1,))  # (B*K,)
        tokens = ops.take(tokens, rows, axis=0)
        state = keras.tree.map_structure(lambda s: ops.take(s, rows, axis=0), state)
        kept_token = ops.reshape(ops.take(tokens, position, axis=1), (batch, k))
        token = ops.where(forced, kept_token, token)  # (B, K)
        tokens = ops.slice_update(tokens, (0, position), ops.reshape(token, (-1, 1)))
        return t + 1, tokens, scores, lengths, done, state

    loop_state = (ops.convert_to_tensor(0, "int32"), tokens, scores, lengths, done, state)
    _, tokens, scores, lengths, _, _ = ops.while_loop(condition, body, loop_state)
    best = ops.argmax(scores / length_penalty_of(lengths, alpha), axis=1)  # (B,)
    rows = ops.arange(batch) * k + ops.cast(best, "int32")
    return new_tokens(ops.take(tokens, rows, axis=0), first_new, max_new_tokens)
