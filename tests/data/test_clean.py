"""Tests of tfbig.data.clean: length filter and de-duplication counts, clean_text eagerly and
in tf.data, Keras Normalization and Rescaling against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from tfbig.data.clean import (clean_text, deduplicate, filter_by_length, fit_normalization,
                              rescale)
from tfbig.errors import TfbigError


def test_filter_by_length_counts_what_it_removes_and_why():
    pairs = [("hi", "a"), ("  ", "b"), ("a longer text", "c"), ("x" * 30, "d"), ("ok", "e")]
    kept, report = filter_by_length(pairs, min_chars=2, max_chars=20)
    assert kept == [("hi", "a"), ("a longer text", "c"), ("ok", "e")]
    assert (report.kept, report.removed) == (3, 2)
    assert report.reasons == {"too short": 1, "too long": 1}
    assert str(report) == "kept 3 of 5 (removed 2: 1 too long, 1 too short)"


def test_filter_by_length_measures_the_chosen_field():
    pairs = [("short", "a much longer target"), ("longer source", "tgt")]
    assert filter_by_length(pairs, max_chars=6, field=1)[0] == [pairs[1]]
    assert filter_by_length(pairs, max_chars=6)[0] == [pairs[0]]  # default: element 0
    rows = [{"text": "abc"}, {"text": "abcdef"}]
    assert filter_by_length(rows, max_chars=3, field="text")[0] == [rows[0]]
    assert filter_by_length(["a", "abcd"], min_chars=2)[0] == ["abcd"]
    kept, _ = filter_by_length(pairs, field=lambda pair: pair[0] + pair[1], max_chars=20)
    assert kept == [pairs[1]]


def test_deduplicate_keeps_the_first_copy_in_order_and_counts_the_rest():
    pairs = [("a", "1"), ("b", "2"), ("a", "1"), ("a", "3"), ("b", "2"), ("a", "1")]
    kept, report = deduplicate(pairs)
    assert kept == [("a", "1"), ("b", "2"), ("a", "3")]
    assert (report.kept, report.removed, report.reasons["duplicate"]) == (3, 3, 3)
    by_source, report = deduplicate(pairs, key=lambda pair: pair[0])
    assert by_source == [("a", "1"), ("b", "2")] and report.removed == 4
    assert str(deduplicate(["x", "y"])[1]) == "kept all 2"


@pytest.mark.parametrize("call, message", [
    (lambda: filter_by_length(["abc"], min_chars=5, max_chars=2),
     r"max_chars=2 is below min_chars=5"),
    (lambda: filter_by_length([("text", 3)], field=1), r"example 0: the field to measure is a "
                                                       r"int, expected str"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(TfbigError, match=message):
        call()


def test_clean_text_deletes_invisible_junk_eagerly_and_in_tf_data(eager_and_mapped):
    texts = np.array(["ab\x00c", "\ufeffhello\u200b  world\x1b", "bad \ufffd byte",
                      "tab\tand\nline", "family 👨\u200d👩\u200d👧 ❤️", "ＡＢＣ ﬁ"])
    cleaned = eager_and_mapped(lambda t: clean_text(t, lower_case=True), texts)
    assert [t.decode() for t in cleaned] == [
        "abc", "hello world", "bad byte", "tab and line", "family 👨\u200d👩\u200d👧 ❤️",
        "abc fi"]


def test_fit_normalization_standardises_like_numpy():
    rng = np.random.default_rng(0)
    data = rng.normal([5.0, -3.0, 100.0], [2.0, 0.5, 30.0], (500, 3)).astype(np.float32)
    layer = fit_normalization(data)
    expected = (data - data.mean(axis=0)) / data.std(axis=0)
    np.testing.assert_allclose(layer(data), expected, atol=1e-3)
    from_dataset = fit_normalization(tf.data.Dataset.from_tensor_slices(data).batch(64))
    np.testing.assert_allclose(from_dataset(data), expected, atol=1e-3)


def test_rescale_uses_keras_rescaling_eagerly_and_in_tf_data(eager_and_mapped):
    images = np.array([[[0.0, 127.5, 255.0]]], np.float32)
    np.testing.assert_allclose(eager_and_mapped(rescale, images), images / 255, atol=1e-6)
    np.testing.assert_allclose(rescale(images, 1 / 127.5, -1.0), [[[-1.0, 0.0, 1.0]]],
                               atol=1e-6)
