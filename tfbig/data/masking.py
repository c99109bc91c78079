"""Masked-language-model inputs (BERT): choose tokens to predict and corrupt them.

``mask_tokens`` is a pure function of ``(token_ids, seed)`` built on stateless random ops, so
the same example with the same seed is masked the same way eagerly, inside
``tf.data.Dataset.map`` (at any parallelism) and on any machine. The pipelines key the seed
by the example's index (``tfbig.data.batching.example_seed``), which makes the masks
independent of shuffling and batching.

The recipe (Devlin et al., section 3.1 and appendix A.1):

1. every real token (id >= ``NUM_SPECIAL_TOKENS``: not padding, not ``[CLS]``/``[SEP]``/
   ``[START]``/``[END]``/``[MASK]``/``[UNK]``) is selected independently with probability
   ``mask_rate`` (0.15), so 15% is the expected rate, exactly, whatever the lengths;
2. a selected token becomes ``[MASK]`` with probability 0.8, a random learned token
   (id in ``[NUM_SPECIAL_TOKENS, vocab_size)``) with probability 0.1, and stays as it is
   otherwise (the model cannot tell which inputs are genuine, so it must model them all);
3. the labels hold the original id at the selected positions and 0 (``[PAD]``) elsewhere, so
   a loss that ignores label 0 (``MaskedSparseCrossentropy``) scores the selected tokens only.

Reference: Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for
Language Understanding", 2019, https://arxiv.org/abs/1810.04805.
"""

import tensorflow as tf

from tfbig.data.rates import check_rate
from tfbig.errors import TfbigError
from tfbig.special_tokens import MASK_ID, NUM_SPECIAL_TOKENS


def content_mask(token_ids):
    """``True`` where ``token_ids`` holds a learned token: not padding, not a special token.

    Shape: same as ``token_ids`` (any rank), bool. Every augmentation and the MLM masking
    touch these positions only.
    """
    return token_ids >= NUM_SPECIAL_TOKENS


def random_learned_ids(shape, seed, vocab_size, dtype=tf.int32):
    """Uniform random ids of learned tokens, ``[NUM_SPECIAL_TOKENS, vocab_size)``."""
    return tf.random.stateless_uniform(shape, seed, minval=NUM_SPECIAL_TOKENS,
                                       maxval=vocab_size, dtype=dtype)


def check_vocab_size(vocab_size):
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or (
            vocab_size <= NUM_SPECIAL_TOKENS):
        raise TfbigError(f"vocab_size={vocab_size!r}: expected an int > {NUM_SPECIAL_TOKENS} "
                         f"(the special tokens plus at least one learned token)")


def mask_tokens(token_ids, seed, *, vocab_size, mask_rate=0.15, mask_token_rate=0.8,
                random_token_rate=0.1):
    """BERT's masking of one example or a batch: ``(masked_ids, labels)``.

    Args:
        token_ids: int ids ``[..., T]`` (any rank, e.g. ``[T]`` or ``[B, T]``), 0 = padding,
            special tokens anywhere; they and the padding are never selected.
        seed: shape ``[2]`` integer seed, as ``tf.random.stateless_uniform`` takes it.
        vocab_size: the tokenizer's vocabulary size (random replacements are drawn from the
            learned ids ``[NUM_SPECIAL_TOKENS, vocab_size)``).
        mask_rate: probability that a real token is selected for prediction.
        mask_token_rate: of the selected, the fraction replaced by ``[MASK]``.
        random_token_rate: of the selected, the fraction replaced by a random learned token;
            the remaining ``1 - mask_token_rate - random_token_rate`` stay unchanged.

    Returns:
        ``masked_ids`` (same shape and dtype as ``token_ids``) and ``labels`` (same shape,
        the original id where selected, 0 elsewhere).

    Raises:
        TfbigError: a rate outside ``[0, 1)`` (``[0, 1]`` for the two split rates), rates
            that sum above 1, or ``vocab_size`` without a learned token.

    Example:
        >>> ids = tf.constant([4, 10, 11, 12, 13, 5, 0, 0])  # [CLS] ... [SEP] padding
        >>> masked, labels = mask_tokens(ids, seed=[0, 1], vocab_size=20, mask_rate=0.5)
        >>> bool(tf.reduce_all((labels == 0) | (labels == ids)))
        True
    """
    check_rate("mask_rate", mask_rate)
    check_rate("mask_token_rate", mask_token_rate, allow_one=True)
    check_rate("random_token_rate", random_token_rate, allow_one=True)
    if mask_token_rate + random_token_rate > 1:
        raise TfbigError(f"mask_token_rate + random_token_rate = "
                         f"{mask_token_rate + random_token_rate}: expected at most 1")
    check_vocab_size(vocab_size)
    token_ids = tf.convert_to_tensor(token_ids)
    shape = tf.shape(token_ids)
    select_seed, action_seed, random_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=3))
    selected = content_mask(token_ids) & (
        tf.random.stateless_uniform(shape, select_seed) < mask_rate)  # [..., T]
    action = tf.random.stateless_uniform(shape, action_seed)  # which corruption, [..., T]
    to_mask = selected & (action < mask_token_rate)
    to_random = selected & (action >= mask_token_rate) & (
        action < mask_token_rate + random_token_rate)
    random_ids = random_learned_ids(shape, random_seed, vocab_size, token_ids.dtype)
    masked = tf.where(to_mask, tf.cast(MASK_ID, token_ids.dtype), token_ids)
    masked = tf.where(to_random, random_ids, masked)
    labels = tf.where(selected, token_ids, tf.zeros_like(token_ids))
    return masked, labels
