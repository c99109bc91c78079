"""Tests for tfbig.data.splits: stable, leak-free splits and k-fold by hash."""

import collections
import re

import pytest

from tfbig.data.splits import default_key, fold_index, kfold, split_examples, split_name
from tfbig.errors import TfbigError

KEYS = [f"example sentence number {i}" for i in range(10_000)]


def test_split_name_and_fold_index_are_deterministic_and_pinned():
    assert [split_name(key) for key in KEYS[:200]] == [split_name(key) for key in KEYS[:200]]
    # Pinned values: a change of hash, salt handling or thresholds would silently reshuffle
    # every user's validation set, so it must show up here.
    assert [split_name(key) for key in KEYS[:8]] == [
        "train", "train", "train", "train", "test", "train", "test", "train"]
    assert [fold_index(key, 5) for key in KEYS[:8]] == [1, 1, 3, 2, 4, 0, 4, 0]


def test_fractions_are_approximately_respected():
    counts = collections.Counter(split_name(key, validation=0.2, test=0.05) for key in KEYS)
    assert abs(counts["validation"] / len(KEYS) - 0.2) < 0.015
    assert abs(counts["test"] / len(KEYS) - 0.05) < 0.01
    assert sum(counts.values()) == len(KEYS)


def test_zero_fractions_put_everything_in_train():
    assert {split_name(key, validation=0, test=0) for key in KEYS[:500]} == {"train"}


def test_test_set_does_not_move_when_validation_changes():
    small = {k for k in KEYS if split_name(k, validation=0.1, test=0.1) == "test"}
    large = {k for k in KEYS if split_name(k, validation=0.3, test=0.1) == "test"}
    assert small == large


def test_salt_draws_a_different_split():
    assert ([split_name(k) for k in KEYS[:300]]
            != [split_name(k, salt="other") for k in KEYS[:300]])


def test_split_examples_is_disjoint_complete_and_keeps_duplicates_together():
    pairs = [(key, str(i)) for i, key in enumerate(KEYS[:2000])]
    pairs += [(key, "duplicate") for key in KEYS[:300]]  # same source, another target
    splits = split_examples(pairs)
    assert sorted(sum(splits.values(), [])) == sorted(pairs)
    where = {}
    for name, examples in splits.items():
        for source, _ in examples:
            assert where.setdefault(source, name) == name  # a source lives in one split only
    assert splits == split_examples(pairs)  # and order is stable


def test_split_examples_with_a_key_function():
    rows = [{"id": key} for key in KEYS[:100]]
    splits = split_examples(rows, key=lambda row: row["id"], validation=0.5, test=0)
    assert splits["test"] == []
    assert len(splits["train"]) + len(splits["validation"]) == 100


def test_default_key():
    assert default_key("text") == "text"
    assert default_key(("source", "target")) == "source"
    with pytest.raises(TfbigError, match=re.escape(
            "cannot take a split key from int 3; expected a string or a tuple whose first "
            "field is a string, or pass key=")):
        default_key(3)


def test_key_must_be_a_string():
    with pytest.raises(TfbigError, match=re.escape("split key must be a string, got bytes: b'x'")):
        split_name(b"x")


@pytest.mark.parametrize("validation, test, message", [
    (-0.1, 0.1, "validation=-0.1: expected a fraction from 0 up to (not including) 1, such as 0.1"),
    (0.1, 1, "test=1: expected a fraction from 0 up to (not including) 1, such as 0.1"),
    (0.1, "0.2", "test='0.2': expected a fraction from 0 up to (not including) 1"),
    (float("nan"), 0.1, "validation=nan: expected a fraction"),
    (0.6, 0.5, "validation=0.6 and test=0.5 add up to 1.1; expected a sum below 1 so that some "
               "examples are left for training"),
])
def test_bad_fractions(validation, test, message):
    with pytest.raises(TfbigError, match="^" + re.escape(message)):
        split_name("x", validation=validation, test=test)
    with pytest.raises(TfbigError, match="^" + re.escape(message)):
        split_examples(["x"], validation=validation, test=test)


def test_fold_index_is_in_range_even_and_independent_of_the_split():
    folds = [fold_index(key, 5) for key in KEYS]
    assert set(folds) == set(range(5))
    assert all(abs(folds.count(f) - 2000) < 150 for f in range(5))
    # Folds use their own hash, so they stay even among the keys the split left in "train".
    train_folds = [f for key, f in zip(KEYS, folds) if split_name(key) == "train"]
    assert all(abs(train_folds.count(f) / len(train_folds) - 0.2) < 0.02 for f in range(5))


@pytest.mark.parametrize("folds", [1, 0, 2.5, True])
def test_bad_folds(folds):
    message = f"folds={folds!r}: expected an integer of at least 2 for k-fold cross-validation"
    with pytest.raises(TfbigError, match="^" + re.escape(message) + "$"):
        fold_index("x", folds)
    with pytest.raises(TfbigError, match="^" + re.escape(message) + "$"):
        kfold(["x", "y"], folds)


def test_kfold_uses_every_example_as_validation_exactly_once():
    examples = [(key, "t") for key in KEYS[:1000]] + [(KEYS[0], "again")]
    folds = list(kfold(examples, 4))
    assert len(folds) == 4
    seen = collections.Counter()
    for train, validation in folds:
        assert len(train) + len(validation) == len(examples)
        assert not {s for s, _ in train} & {s for s, _ in validation}  # duplicates together
        seen.update(validation)
    assert seen == collections.Counter(examples)


def test_kfold_with_too_few_examples():
    with pytest.raises(TfbigError, match=re.escape(
            "of 10 has no validation examples: 2 examples are too few for 10 folds (duplicates "
            "share a fold); use fewer folds or more data")):
        kfold(["a", "b"], 10)
