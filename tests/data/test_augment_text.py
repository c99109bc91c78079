"""Tests of tfbig.data.augment_text: determinism, eager = tf.data, specials untouched, and
the fraction of tokens each op changes (statistical checks on ~14k tokens)."""

import numpy as np
import pytest
import tensorflow as tf

from tfbig.data import augment_text as A
from tfbig.errors import TfbigError
from tfbig.special_tokens import CLS_ID, MASK_ID, NUM_SPECIAL_TOKENS, SEP_ID

VOCAB = 5000
RATE = 0.2

OPS = {
    "mask": lambda ids, seed: A.random_mask(ids, seed, rate=RATE),
    "substitution": lambda ids, seed: A.random_substitution(ids, seed, rate=RATE,
                                                            vocab_size=VOCAB),
    "deletion": lambda ids, seed: A.random_deletion(ids, seed, rate=RATE),
    "swap_adjacent": lambda ids, seed: A.random_swap(ids, seed, rate=RATE),
    "swap_random": lambda ids, seed: A.random_swap(ids, seed, rate=RATE, adjacent=False),
    "span": lambda ids, seed: A.span_corruption(ids, seed, rate=RATE, span_length=3),
}
SAME_LENGTH = ("mask", "substitution", "swap_adjacent", "swap_random")


def bert_rows(rows=250, length=80, seed=0):
    """``[CLS] content [SEP] 0 …`` rows, 30..77 content tokens, distinct within a row."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((rows, length), np.int32)
    for row in range(rows):
        n = rng.integers(30, length - 2)
        content = rng.choice(np.arange(NUM_SPECIAL_TOKENS, VOCAB), n, replace=False)
        ids[row, :n + 2] = [CLS_ID, *content, SEP_ID]
    return ids


@pytest.fixture(scope="module")
def rows():
    return bert_rows()


@pytest.fixture(scope="module")
def outputs(rows):
    return {name: op(rows, [7, 11]).numpy() for name, op in OPS.items()}


@pytest.mark.parametrize("name", OPS)
def test_deterministic_for_a_seed_and_different_across_seeds(name, rows, outputs):
    op = OPS[name]
    np.testing.assert_array_equal(op(rows, [7, 11]), outputs[name])
    assert not np.array_equal(op(rows, [7, 12]), outputs[name])


@pytest.mark.parametrize("name", OPS)
def test_eager_and_in_tf_data_agree(name, rows, eager_and_mapped):
    n = int((rows[0] != 0).sum())  # one unpadded example [T], as the pipelines augment it
    eager_and_mapped(OPS[name], rows[0, :n], np.array([1, 2]))


@pytest.mark.parametrize("name", OPS)
def test_padding_and_special_tokens_stay(name, rows, outputs):
    out = outputs[name]
    assert out.shape == rows.shape and out.dtype == rows.dtype
    if name in SAME_LENGTH:  # specials and padding keep their exact positions
        special = rows < NUM_SPECIAL_TOKENS
        np.testing.assert_array_equal(out[special], rows[special])
        assert (out[~special] >= NUM_SPECIAL_TOKENS).all() or name == "mask"
    for before, after in zip(rows, out):  # shortening ops: same specials, padding at the end
        length = int((after != 0).sum())
        assert (after[:length] != 0).all() and (after[length:] == 0).all()
        specials = [t for t in after if t in (CLS_ID, SEP_ID)]
        assert specials == [CLS_ID, SEP_ID] and after[0] == CLS_ID
        assert after[length - 1] == SEP_ID


def content_count(ids):
    return int((ids >= NUM_SPECIAL_TOKENS).sum())


def test_mask_and_substitution_change_the_expected_fraction(rows, outputs):
    real = rows >= NUM_SPECIAL_TOKENS
    assert abs((outputs["mask"] == MASK_ID)[real].mean() - RATE) < 0.02
    changed = (outputs["substitution"] != rows)[real].mean()
    assert abs(changed - RATE * (1 - 1 / (VOCAB - NUM_SPECIAL_TOKENS))) < 0.02
    replaced = outputs["substitution"][outputs["substitution"] != rows]
    assert replaced.min() >= NUM_SPECIAL_TOKENS and replaced.max() < VOCAB


def test_deletion_removes_the_expected_fraction_and_keeps_the_order(rows, outputs):
    out = outputs["deletion"]
    assert abs(1 - content_count(out) / content_count(rows) - RATE) < 0.02
    for before, after in zip(rows, out):
        kept = list(after[after >= NUM_SPECIAL_TOKENS])
        iterator = iter(before)
        assert all(token in iterator for token in kept)  # an ordered subsequence


def test_deletion_never_empties_a_sequence():
    ids = tf.constant([[CLS_ID, 10, SEP_ID, 0]] * 50)
    out = A.random_deletion(ids, [0, 1], rate=0.99).numpy()
    assert (out[:, 1] == 10).all()


def test_swaps_move_the_expected_fraction_as_permutations(rows, outputs):
    real = rows >= NUM_SPECIAL_TOKENS
    adjacent, anywhere = outputs["swap_adjacent"], outputs["swap_random"]
    assert abs((adjacent != rows)[real].mean() - RATE * (1 - RATE / 2)) < 0.02
    assert abs((anywhere != rows)[real].mean() - RATE) < 0.02
    for before, one, other in zip(rows, adjacent, anywhere):
        assert sorted(one) == sorted(before) and sorted(other) == sorted(before)
        moved = np.flatnonzero(one != before)  # adjacent swaps come in neighbouring pairs
        assert len(moved) % 2 == 0 and (moved[1::2] - moved[::2] == 1).all()


def test_span_corruption_covers_the_expected_fraction_with_one_mask_per_span(rows, outputs):
    out = outputs["span"]
    covered = 1 - content_count(out) / content_count(rows)
    assert abs(covered - (1 - (1 - RATE / 3) ** 3)) < 0.02
    masks = out == MASK_ID
    assert masks.any() and not (masks[:, 1:] & masks[:, :-1]).any()  # runs → one [MASK]


def test_augmenter_chains_the_enabled_ops_with_folded_seeds(rows):
    config = {"delete_rate": 0.1, "mask_rate": 0.1}
    augment = A.text_augmenter(config, vocab_size=VOCAB)
    seed = tf.constant([3, 4], tf.int64)
    fold_in = tf.random.experimental.stateless_fold_in
    expected = A.random_mask(A.random_deletion(rows, fold_in(seed, 1), rate=0.1),
                             fold_in(seed, 5), rate=0.1)
    np.testing.assert_array_equal(augment(rows, seed), expected)
    identity = A.text_augmenter(A.TextAugmentConfig(), vocab_size=VOCAB)
    np.testing.assert_array_equal(identity(rows, seed), rows)


@pytest.mark.parametrize("make, message", [
    (lambda: A.text_augmenter({"mask": 0.1}, 100), r"unknown text augmentation 'mask'; valid "
                                                   r"keys: delete_rate, span_rate"),
    (lambda: A.TextAugmentConfig(swap_rate=1.0), r"TextAugmentConfig\.swap_rate=1\.0: "
                                                 r"expected a number in \[0, 1\)"),
    (lambda: A.TextAugmentConfig(span_length=0), r"span_length=0: expected an int >= 1"),
    (lambda: A.text_augmenter([0.1], 100), r"augment: expected a TextAugmentConfig"),
    (lambda: A.random_mask(tf.constant(5), [0, 0], rate=0.1), r"known rank >= 1"),
])
def test_bad_settings_are_named(make, message):
    with pytest.raises(TfbigError, match=message):
        make()


def test_back_translate_pairs_each_prediction_with_its_original():
    def reverse(batch):  # stands in for task.predict_texts(model, batch) of a reverse run
        return ["" if text == "drop me" else text[::-1] for text in batch]

    texts = ["abc", "drop me", "xyz"]
    assert A.back_translate(texts, reverse, batch_size=2) == [("cba", "abc"), ("zyx", "xyz")]
    assert len(A.back_translate(texts, reverse, drop_empty=False)) == 3
    with pytest.raises(TfbigError, match=r"predict_fn returned 1 items for 3 texts"):
        A.back_translate(texts, lambda batch: ["one"])
