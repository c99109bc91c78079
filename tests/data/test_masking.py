"""Tests of tfbig.data.masking: BERT's 15% selection and 80/10/10 corruption."""

import numpy as np
import pytest
import tensorflow as tf

from tfbig.data.masking import content_mask, mask_tokens
from tfbig.errors import TfbigError
from tfbig.special_tokens import CLS_ID, MASK_ID, NUM_SPECIAL_TOKENS, SEP_ID

VOCAB = 500


def bert_rows(rows=200, length=100, seed=0):
    """``[rows, length]`` of ``[CLS] content [SEP] 0 …`` with 40..97 content tokens each."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((rows, length), np.int32)
    for row in range(rows):
        n = rng.integers(40, length - 2)
        ids[row, :n + 2] = [CLS_ID, *rng.integers(NUM_SPECIAL_TOKENS, VOCAB, n), SEP_ID]
    return ids


@pytest.fixture(scope="module")
def masked_batch():
    ids = bert_rows()
    masked, labels = mask_tokens(ids, [3, 4], vocab_size=VOCAB)
    return ids, masked.numpy(), labels.numpy()


def test_selects_15_percent_of_real_tokens_and_splits_80_10_10(masked_batch):
    ids, masked, labels = masked_batch
    real = ids >= NUM_SPECIAL_TOKENS
    selected = labels != 0
    assert abs(selected.sum() / real.sum() - 0.15) < 0.015  # ~14k real tokens: σ ≈ 0.003
    to_mask = (masked == MASK_ID)[selected].mean()
    replaced = ((masked != ids) & (masked != MASK_ID))[selected].mean()
    unchanged = (masked == ids)[selected].mean()
    assert abs(to_mask - 0.8) < 0.04
    assert abs(replaced - 0.1) < 0.03
    assert abs(unchanged - 0.1) < 0.03


def test_labels_hold_the_original_only_at_selected_positions(masked_batch):
    ids, masked, labels = masked_batch
    selected = labels != 0
    np.testing.assert_array_equal(labels[selected], ids[selected])
    np.testing.assert_array_equal(masked[~selected], ids[~selected])  # the rest untouched
    assert not selected[ids < NUM_SPECIAL_TOKENS].any()  # never padding, [CLS] or [SEP]
    random_ids = masked[selected & (masked != MASK_ID)]
    assert random_ids.min() >= NUM_SPECIAL_TOKENS and random_ids.max() < VOCAB


def test_deterministic_for_a_seed_and_different_across_seeds():
    ids = bert_rows(rows=8)
    first = mask_tokens(ids, [1, 2], vocab_size=VOCAB)
    again = mask_tokens(ids, [1, 2], vocab_size=VOCAB)
    other = mask_tokens(ids, [1, 3], vocab_size=VOCAB)
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[1], other[1])


def test_eager_and_in_tf_data_agree(eager_and_mapped):
    ids = bert_rows(rows=1)[0]  # one example, [T], as the pipeline masks it
    masked, labels = eager_and_mapped(
        lambda x, seed: mask_tokens(x, seed, vocab_size=VOCAB), ids, np.array([5, 6]))
    assert masked.shape == labels.shape == ids.shape


def test_content_mask_excludes_padding_and_every_special_token():
    ids = tf.constant([0, 1, 2, 3, 4, 5, 6, 7, 99])
    np.testing.assert_array_equal(content_mask(ids), [False] * 7 + [True, True])


@pytest.mark.parametrize("kwargs, message", [
    (dict(mask_rate=1.5), r"mask_rate=1\.5: expected a number in \[0, 1\)"),
    (dict(mask_token_rate=0.9, random_token_rate=0.2),
     r"mask_token_rate \+ random_token_rate = 1\.1.*at most 1"),
    (dict(vocab_size=7), r"vocab_size=7: expected an int > 7"),
])
def test_bad_arguments_are_named(kwargs, message):
    kwargs = {"vocab_size": VOCAB, **kwargs}
    with pytest.raises(TfbigError, match=message):
        mask_tokens(tf.constant([4, 9, 5]), [0, 0], **kwargs)
