"""Tests for tfbig.data.hash_split: the in-graph split and k-fold assignment are exactly
tfbig.data.splits' (split_name, fold_index, split_examples, kfold), key by key."""

import random
import re

import numpy as np
import pytest
import tensorflow as tf

from tfbig.data.hash_split import fold_filter, fold_ids, split_filter, split_ids
from tfbig.data.sources import read_pairs
from tfbig.data.splits import SPLITS, fold_index, kfold, split_examples, split_name
from tfbig.data.stream import translation_stream
from tfbig.data.stream_bad_lines import iterate
from tfbig.errors import TfbigError


def exactly(message: str) -> str:
    """A ``match=`` pattern for the whole message, taken literally."""
    return "^" + re.escape(message) + "$"


def random_keys(count: int, seed: int = 0) -> list[str]:
    """ASCII, accented, CJK, emoji, whitespace-only, one-character and empty keys."""
    rng = random.Random(seed)
    alphabet = "ab Zé\u00a0\u4e2d\u6587\U0001f600\t\n\x00\ufeff\u2003,\""
    keys = ["", " ", "\t", "\x00", "a", "é", "\U0001f600"]
    keys += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
             for _ in range(count - len(keys))]
    return keys


@pytest.mark.parametrize("validation, test, salt", [(0.1, 0.1, "tfbig"), (0.3, 0.05, "other"),
                                                    (0.0, 0.5, "tfbig"), (0.25, 0.0, "x")])
def test_split_ids_equal_split_name(validation, test, salt):
    keys = random_keys(3000)
    expected = [SPLITS.index(split_name(key, validation=validation, test=test, salt=salt))
                for key in keys]
    got = split_ids(tf.constant([key.encode() for key in keys]), validation=validation,
                    test=test, salt=salt)
    assert got.numpy().tolist() == expected


@pytest.mark.parametrize("folds", [2, 5, 7])
def test_fold_ids_equal_fold_index(folds):
    keys = random_keys(3000, seed=folds)
    got = fold_ids(tf.constant([key.encode() for key in keys]), folds, salt="s")
    assert got.numpy().tolist() == [fold_index(key, folds, salt="s") for key in keys]


def test_split_ids_eagerly_and_in_tf_data(eager_and_mapped):
    keys = [key.encode() for key in random_keys(500, seed=1)]
    eager = eager_and_mapped(lambda batch: split_ids(batch, validation=0.2, test=0.2), keys)
    assert eager.tolist() == [SPLITS.index(split_name(key.decode(), validation=0.2, test=0.2))
                              for key in keys]


def test_split_filter_keeps_about_80_percent_of_a_dataset_for_train():
    """``split_filter`` over a dataset of strings (batch → key → hash → mask → unbatch).
    Its speed is measured in ``benchmarks/streaming_corpus.py``, not here."""
    count = 20_000
    texts = [f"a source sentence of some length, number {i}" for i in range(count)]
    dataset = split_filter(tf.data.Dataset.from_tensor_slices(texts), None, "train")
    kept = sum(len(batch) for batch in dataset.batch(4096).as_numpy_iterator())
    assert 0.75 * count < kept < 0.85 * count


@pytest.fixture
def corpus(tmp_path):
    rng = random.Random(0)
    lines = [f"{''.join(rng.choice('abcdé ') for _ in range(rng.randrange(1, 9)))}x\t{i}"
             for i in range(1500)]
    lines += lines[:100]  # duplicates share their split and fold
    path = tmp_path / "x.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_split_filter_equals_split_examples(corpus):
    expected = split_examples(read_pairs(corpus), validation=0.2, test=0.1)
    stream = translation_stream(corpus)
    for name in SPLITS:
        got = list(iterate(split_filter(stream, None, name, validation=0.2, test=0.1,
                                        batch_size=64)))
        assert got == expected[name]


def test_split_filter_with_a_key_function_and_plain_strings():
    texts = [f"text {i}" for i in range(300)]
    dataset = tf.data.Dataset.from_tensor_slices(texts)
    upper = split_filter(dataset, tf.strings.upper, "test", test=0.3)
    assert list(iterate(upper)) == split_examples(texts, str.upper, validation=0.1,
                                                  test=0.3)["test"]
    assert list(iterate(split_filter(dataset, None, "validation"))) == split_examples(
        texts)["validation"]


def test_fold_filter_equals_kfold(corpus):
    pairs = list(read_pairs(corpus))
    stream = translation_stream(corpus)
    folds = list(kfold(pairs, folds=3))
    for fold, (_, validation) in enumerate(folds):
        assert list(iterate(fold_filter(stream, None, 3, fold))) == validation
    assert list(iterate(fold_filter(stream, None, 3, 1, part="train"))) == folds[1][0]


def test_bad_arguments():
    dataset = tf.data.Dataset.from_tensor_slices(["a"])
    with pytest.raises(TfbigError, match=exactly(
            "split='dev': expected one of train, validation, test")):
        split_filter(dataset, None, "dev")
    with pytest.raises(TfbigError, match=exactly(
            "validation=0.6 and test=0.5 add up to 1.1; expected a sum below 1 so that some "
            "examples are left for training")):
        split_filter(dataset, None, "train", validation=0.6, test=0.5)
    with pytest.raises(TfbigError, match=exactly(
            "folds=1: expected an integer of at least 2 for k-fold cross-validation")):
        fold_filter(dataset, None, 1, 0)
    with pytest.raises(TfbigError, match=exactly("fold=3: expected a fold from 0 to 2 (folds=3)")):
        fold_filter(dataset, None, 3, 3)
    with pytest.raises(TfbigError, match=exactly(
            "part='test': expected one of train, validation")):
        fold_filter(dataset, None, 3, 0, part="test")
    assert np.array_equal(fold_ids(tf.constant([], tf.string), 2).numpy(), [])
