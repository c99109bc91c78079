"""Top-k and nucleus (top-p) cut-offs found without sorting the vocabulary.

Both filters keep the tokens whose logit is at least a cut-off: the k-th largest logit
(top-k), or the smallest logit of the shortest most-likely prefix whose probability reaches
``p`` (top-p, Holtzman et al. 2019, https://arxiv.org/abs/1904.09751). The plain way to
find them sorts each row (``ops.top_k``, ``ops.sort``); that is what ``sampling.next_token``
does without XLA. XLA compiles a sort poorly on CPUs (top-k sampling ran at half the speed
of TensorFlow's own kernels), so under XLA the cut-off is found by bisection instead:

    the cut-off τ is the largest value with  enough({logits ≥ τ}),

where ``enough`` is "at least k tokens" or "probability mass at least p": both only grow as
τ falls, so a binary search finds τ. Searching among float32 *bit patterns* read as
integers, ordered like the floats they encode (:func:`sortable_keys`), makes it exact: 32
halvings of the 2³² patterns land on the very logit a sort would pick. Each halving is one
compare-and-sum pass over ``[batch, vocab]``, which XLA fuses.
"""

from keras import ops

SEARCH_STEPS = 32  # halvings of the 2**32 float32 bit patterns: one pattern left


def sortable_keys(x):
    """float32 ``x`` → int64 keys with ``key(a) < key(b)`` exactly when ``a < b``.

    A float32's bit pattern read as an int32 is ordered like the float for positive
    numbers and reversed for negative ones (sign-magnitude), so the magnitude bits of
    negatives are flipped. ``x + 0.0`` first turns -0.0 into 0.0: equal floats, one key.
    """
    bits = ops.view(ops.cast(x, "float32") + 0.0, "int32")
    flipped = ops.bitwise_xor(bits, 0x7FFFFFFF)
    return ops.cast(ops.where(bits < 0, flipped, bits), "int64")


def largest_cutoff(keys, enough):
    """Per row, the largest key τ of ``keys [B, V]`` with ``enough(keys >= τ)`` (``[B, V]``
    bool → ``[B]`` bool) true; ``enough`` must hold for the whole row and only grow as τ
    falls. Returns int64 ``[B]``, one of the row's keys."""
    low = ops.min(keys, axis=-1)  # enough(everything): true
    high = ops.max(keys, axis=-1) + 1  # enough(nothing): false

    def halve(_, bounds):
        low, high = bounds
        middle = low + (high - low) // 2
        ok = enough(keys >= middle[:, None])
        return ops.where(ok, middle, low), ops.where(ok, high, middle)

    low, _ = ops.fori_loop(0, SEARCH_STEPS, halve, (low, high))
    return low


def top_k_mask(logits, k):
    """True for the ``k`` largest logits of each row (and any tied with the k-th)."""
    keys = sortable_keys(logits)
    cutoff = largest_cutoff(
        keys, lambda keep: ops.sum(ops.cast(keep, "int32"), axis=-1) >= k)
    return keys >= cutoff[:, None]


def top_p_mask(logits, p):
    """True for the shortest most-likely set of tokens whose probability reaches ``p``
    (and any tied with its least likely one)."""
    keys = sortable_keys(logits)
    probabilities = ops.softmax(ops.cast(logits, "float32"), axis=-1)
    cutoff = largest_cutoff(
        keys, lambda keep: ops.sum(ops.where(keep, probabilities, 0.0), axis=-1) >= p)
    return keys >= cutoff[:, None]
