"""Text augmentation on token ids: pure ``(token_ids, seed) -> token_ids`` functions.

Every op takes int ids ``[..., T]`` (one example ``[T]`` or a batch ``[B, T]``) and a
shape-``[2]`` integer seed, draws its randomness with ``tf.random.stateless_*`` ops only, and
returns ids of the same shape and dtype. So an op gives the same result eagerly and inside
``tf.data.Dataset.map`` at any parallelism, and the pipelines make it a function of
``(seed, example index)`` alone (``tfbig.data.batching.example_seed``).

Only *content* tokens (ids >= ``NUM_SPECIAL_TOKENS``, see ``masking.content_mask``) are
touched: padding and ``[CLS]``/``[SEP]``/``[START]``/``[END]``/``[MASK]``/``[UNK]`` stay
where they are. The ops that shorten a sequence (deletion, span corruption) close the gap
and append padding (0) at the end, so shapes never change.

=====================  ===========================================  ==========================
op                     what ``rate`` means                          after (EDA / T5 / BERT)
=====================  ===========================================  ==========================
``random_mask``        each content token → ``[MASK]``              BERT-style word dropout
``random_deletion``    each content token deleted (one always       EDA "random deletion"
                       survives)
``random_swap``        about this fraction of content tokens        EDA "random swap"
                       move: adjacent pairs swap, or selected
                       tokens rotate among themselves
``span_corruption``    about this fraction is covered by spans of   T5 span corruption (one
                       ``span_length``; each span → one ``[MASK]``  ``[MASK]`` per span)
``random_substitution``  each content token → a random learned id   EDA "random replacement"
=====================  ===========================================  ==========================

``text_augmenter(TextAugmentConfig(...), vocab_size)`` chains the ops whose rate is above 0
into one ``(token_ids, seed) -> token_ids`` function; each op draws from its own
``stateless_fold_in(seed, op_number)``, so switching one op off leaves the others' draws as
they were. ``back_translate`` augments at the string level with any translation function.

References: Wei & Zou, "EDA: Easy Data Augmentation Techniques", 2019,
https://arxiv.org/abs/1901.11196; Raffel et al., "Exploring the Limits of Transfer Learning
with a Unified Text-to-Text Transformer" (T5), 2020, https://arxiv.org/abs/1910.10683;
Sennrich et al., "Improving Neural Machine Translation Models with Monolingual Data"
(back-translation), 2016, https://arxiv.org/abs/1511.06709.
"""

import dataclasses

import tensorflow as tf

from tfbig.data.masking import check_vocab_size, content_mask, random_learned_ids
from tfbig.data.rates import check_rate
from tfbig.errors import TfbigError
from tfbig.special_tokens import MASK_ID


# ------------------------------------------------------------------------------- helpers
def _shift_right(x, fill):
    """``x`` moved one place right along the last axis, ``fill`` entering at position 0."""
    pad = tf.fill(tf.concat([tf.shape(x)[:-1], [1]], 0), tf.cast(fill, x.dtype))
    return tf.concat([pad, x[..., :-1]], axis=-1)


def _shift_left(x, fill):
    """``x`` moved one place left along the last axis, ``fill`` entering at the end."""
    pad = tf.fill(tf.concat([tf.shape(x)[:-1], [1]], 0), tf.cast(fill, x.dtype))
    return tf.concat([x[..., 1:], pad], axis=-1)


def _drop_and_close_gaps(token_ids, drop):
    """Remove the ``drop`` positions, keep the order of the rest, pad with 0 at the end."""
    rank = token_ids.shape.rank
    order = tf.argsort(tf.cast(drop, tf.int32), axis=-1, stable=True)  # kept first, [..., T]
    return tf.gather(tf.where(drop, tf.zeros_like(token_ids), token_ids), order,
                     axis=rank - 1, batch_dims=rank - 1)


def _uniform(token_ids, seed):
    return tf.random.stateless_uniform(tf.shape(token_ids), seed)  # [..., T] in [0, 1)


def _ids(token_ids):
    token_ids = tf.convert_to_tensor(token_ids)
    if token_ids.shape.rank is None or token_ids.shape.rank < 1:
        raise TfbigError(f"token_ids must have a known rank >= 1 ([T] or [B, T]), got shape "
                         f"{token_ids.shape}")
    return token_ids


# ------------------------------------------------------------------------------------ ops
def random_mask(token_ids, seed, *, rate):
    """Replace each content token by ``[MASK]`` with probability ``rate``."""
    check_rate("rate", rate)
    token_ids = _ids(token_ids)
    hit = content_mask(token_ids) & (_uniform(token_ids, seed) < rate)
    return tf.where(hit, tf.cast(MASK_ID, token_ids.dtype), token_ids)


def random_substitution(token_ids, seed, *, rate, vocab_size):
    """Replace each content token by a uniformly random learned id with probability ``rate``.

    The new id is drawn from ``[NUM_SPECIAL_TOKENS, vocab_size)`` (it may, rarely, be the
    same as the old one).
    """
    check_rate("rate", rate)
    check_vocab_size(vocab_size)
    token_ids = _ids(token_ids)
    hit_seed, id_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    hit = content_mask(token_ids) & (_uniform(token_ids, hit_seed) < rate)
    new_ids = random_learned_ids(tf.shape(token_ids), id_seed, vocab_size, token_ids.dtype)
    return tf.where(hit, new_ids, token_ids)


def random_deletion(token_ids, seed, *, rate):
    """Delete each content token with probability ``rate``; never all of a sequence's.

    If every content token of a sequence is drawn for deletion, that sequence is kept whole
    (EDA keeps at least one word).
    """
    check_rate("rate", rate)
    token_ids = _ids(token_ids)
    content = content_mask(token_ids)
    drop = content & (_uniform(token_ids, seed) < rate)
    wipes_out = tf.reduce_all(drop | ~content, axis=-1, keepdims=True)  # [..., 1]
    return _drop_and_close_gaps(token_ids, drop & ~wipes_out)


def random_swap(token_ids, seed, *, rate, adjacent=True):
    """Move about ``rate`` of the content tokens by swapping.

    ``adjacent=True``: each pair of neighbouring content tokens starts a swap with
    probability ``rate / 2``; a pair that overlaps the pair on its left is skipped, so the
    swaps are disjoint and ``rate · (1 - rate / 2)`` of the tokens move (in a long sequence).

    ``adjacent=False``: each content token is selected with probability ``rate`` and the
    selected tokens of a sequence rotate one place among themselves (with two selected,
    that is a swap of a random pair; a sequence with one selected token is left alone).
    """
    check_rate("rate", rate)
    token_ids = _ids(token_ids)
    content = content_mask(token_ids)
    u = _uniform(token_ids, seed)
    if adjacent:
        # chosen[i]: swap positions i and i+1. Pairs must not overlap: skip i if i-1 chose.
        chosen = content & _shift_left(content, False) & (u < rate / 2)
        starts = chosen & ~_shift_right(chosen, False)
        ends = _shift_right(starts, False)
        swapped = tf.where(starts, _shift_left(token_ids, 0), token_ids)
        return tf.where(ends, _shift_right(token_ids, 0), swapped)
    rank = token_ids.shape.rank
    selected = content & (u < rate)
    count = tf.reduce_sum(tf.cast(selected, tf.int32), axis=-1, keepdims=True)  # [..., 1]
    rank_of = tf.cumsum(tf.cast(selected, tf.int32), axis=-1) - 1  # k-th selected, [..., T]
    position_of_rank = tf.argsort(tf.cast(~selected, tf.int32), axis=-1, stable=True)
    source_rank = tf.math.floormod(rank_of + 1, tf.maximum(count, 1))
    source = tf.gather(position_of_rank, source_rank, axis=rank - 1, batch_dims=rank - 1)
    rotated = tf.gather(token_ids, source, axis=rank - 1, batch_dims=rank - 1)
    return tf.where(selected & (count >= 2), rotated, token_ids)


def span_corruption(token_ids, seed, *, rate, span_length=3):
    """Cover about ``rate`` of the content tokens with spans; each span becomes one ``[MASK]``.

    Each content token starts a span of ``span_length`` tokens with probability
    ``rate / span_length``; overlapping or touching spans merge, and a span stops at the end
    of the content. In a long sequence ``1 - (1 - rate / span_length) ** span_length`` of the
    tokens are covered (0.143 for 0.15 and 3). T5's infilling objective, with one ``[MASK]``
    in place of T5's numbered sentinels.
    """
    check_rate("rate", rate)
    if isinstance(span_length, bool) or not isinstance(span_length, int) or span_length < 1:
        raise TfbigError(f"span_length={span_length!r}: expected an int >= 1")
    token_ids = _ids(token_ids)
    content = content_mask(token_ids)
    starts = content & (_uniform(token_ids, seed) < rate / span_length)
    # covered[i]: a span started in (i - span_length, i]; counted with a running sum.
    started = tf.cumsum(tf.cast(starts, tf.int32), axis=-1)
    before = tf.pad(started, [[0, 0]] * (token_ids.shape.rank - 1) + [[span_length, 0]])
    covered = content & ((started - before[..., :-span_length]) > 0)
    first = covered & ~_shift_right(covered, False)  # each run's first token → [MASK]
    masked = tf.where(first, tf.cast(MASK_ID, token_ids.dtype), token_ids)
    return _drop_and_close_gaps(masked, covered & ~first)


# ------------------------------------------------------------------------------- chained
@dataclasses.dataclass(frozen=True)
class TextAugmentConfig:
    """Rates of the text augmentations; 0 switches an op off (all are off by default).

    Example:
        >>> augment = text_augmenter(TextAugmentConfig(mask_rate=0.1), vocab_size=100)
        >>> ids = augment(tf.constant([4, 50, 51, 52, 5, 0]), seed=[0, 7])
    """

    delete_rate: float = 0.0  # each content token deleted
    span_rate: float = 0.0  # fraction covered by spans, each span → one [MASK]
    span_length: int = 3  # tokens per span
    swap_rate: float = 0.0  # fraction of content tokens moved by swaps
    swap_adjacent: bool = True  # swap neighbours (True) or rotate random tokens (False)
    substitute_rate: float = 0.0  # each content token → a random learned token
    mask_rate: float = 0.0  # each content token → [MASK]

    def __post_init__(self):
        for field in ("delete_rate", "span_rate", "swap_rate", "substitute_rate", "mask_rate"):
            check_rate(f"TextAugmentConfig.{field}", getattr(self, field))
        if isinstance(self.span_length, bool) or not isinstance(self.span_length, int) or (
                self.span_length < 1):
            raise TfbigError(f"TextAugmentConfig.span_length={self.span_length!r}: expected "
                             "an int >= 1")

    @classmethod
    def from_dict(cls, rates):
        """Build from a ``{field: value}`` dict, naming the valid fields on a bad key."""
        names = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(rates) - set(names))
        if unknown:
            raise TfbigError(f"unknown text augmentation {unknown[0]!r}; valid keys: "
                             f"{', '.join(names)}")
        return cls(**rates)


def text_augmenter(config, vocab_size):
    """One ``(token_ids, seed) -> token_ids`` function applying the enabled ops in order.

    Order: deletion, span corruption, swap, substitution, mask. Each op ``k`` (that fixed
    order, 1-based) draws from ``stateless_fold_in(seed, k)``.

    Args:
        config: a ``TextAugmentConfig`` or a dict of its fields; a callable is taken to be
            an augmentation already and returned as it is.
        vocab_size: the tokenizer's vocabulary size (for substitution).
    """
    if callable(config):
        return config
    if isinstance(config, dict):
        config = TextAugmentConfig.from_dict(config)
    if not isinstance(config, TextAugmentConfig):
        raise TfbigError(f"augment: expected a TextAugmentConfig, a dict of rates or a "
                         f"(token_ids, seed) -> token_ids callable, got {type(config).__name__}")
    steps = [
        (1, config.delete_rate, lambda ids, s: random_deletion(ids, s, rate=config.delete_rate)),
        (2, config.span_rate, lambda ids, s: span_corruption(
            ids, s, rate=config.span_rate, span_length=config.span_length)),
        (3, config.swap_rate, lambda ids, s: random_swap(
            ids, s, rate=config.swap_rate, adjacent=config.swap_adjacent)),
        (4, config.substitute_rate, lambda ids, s: random_substitution(
            ids, s, rate=config.substitute_rate, vocab_size=vocab_size)),
        (5, config.mask_rate, lambda ids, s: random_mask(ids, s, rate=config.mask_rate)),
    ]
    enabled = [(number, op) for number, rate, op in steps if rate > 0]
    if config.substitute_rate > 0:
        check_vocab_size(vocab_size)

    def augment(token_ids, seed):
        token_ids = _ids(token_ids)
        for number, op in enabled:
            token_ids = op(token_ids, tf.random.experimental.stateless_fold_in(seed, number))
        return token_ids

    return augment


# ---------------------------------------------------------------------- back-translation
def back_translate(texts, predict_fn, *, batch_size=64, drop_empty=True):
    """Synthetic ``(source, target)`` pairs: ``(predict_fn(text), text)`` for every text.

    For translation, ``texts`` are target-language sentences and ``predict_fn`` translates
    them back into the source language (a model trained in the reverse direction); the
    pairs are then added to the real ones. For classification, translate there and back
    (``lambda b: back(there(b))``) and keep the label of each original text.

    Args:
        texts: a list of ``str``.
        predict_fn: a callable ``list[str] -> list[str]`` of the same length; for a
            trained reverse run (target → source, decoding greedily as
            ``python -m tfbig.predict`` does) pass ``tfbig.inference.run_predictor(path)``::

                from tfbig.inference import run_predictor
                pairs = back_translate(targets, run_predictor("runs/dates_reverse"))
                augmented = train_pairs + pairs

        batch_size: texts per ``predict_fn`` call.
        drop_empty: leave out pairs whose prediction is empty or whitespace.

    Returns:
        A list of ``(predicted, original)`` string pairs.

    Raises:
        TfbigError: ``predict_fn`` returned something other than one string per text.
    """
    if not callable(predict_fn):  # data sits below the runs it could load (architecture.md)
        raise TfbigError(f"back_translate: predict_fn={predict_fn!r} is not callable; for a "
                         f"run folder pass tfbig.inference.run_predictor(folder)")
    texts = list(texts)
    pairs = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        predicted = list(predict_fn(batch))
        if len(predicted) != len(batch) or not all(isinstance(p, str) for p in predicted):
            raise TfbigError(f"back_translate: predict_fn returned {len(predicted)} items for "
                             f"{len(batch)} texts; expected one str per text")
        pairs += [(p, t) for p, t in zip(predicted, batch) if p.strip() or not drop_empty]
    return pairs
