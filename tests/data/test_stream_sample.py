"""Tests for tfbig.data.stream_sample: a bounded, seeded, uniform sample of a stream."""

import collections
import io
import re

import pytest
import tensorflow as tf

from tfbig.data.stream import translation_stream
from tfbig.data.stream_sample import sample_texts
from tfbig.errors import TfbigError


def exactly(message: str) -> str:
    """A ``match=`` pattern for the whole message, taken literally."""
    return "^" + re.escape(message) + "$"


def texts(count: int) -> tf.data.Dataset:
    return tf.data.Dataset.range(count).map(lambda i: tf.strings.as_string(i))


def test_same_seed_same_sample_and_other_seeds_differ():
    first = sample_texts(texts(5000), 100, seed=1, progress=None)
    assert first == sample_texts(texts(5000), 100, seed=1, progress=None)
    assert first != sample_texts(texts(5000), 100, seed=2, progress=None)
    assert len(first) == len(set(first)) == 100
    assert set(first) <= {str(i) for i in range(5000)}


@pytest.mark.parametrize("count", [1, 99, 100])
def test_a_corpus_no_larger_than_size_comes_back_whole_in_order(count):
    assert sample_texts(texts(count), 100, progress=None) == [str(i) for i in range(count)]


def test_the_sample_is_uniform():
    """Each of 10 elements is kept by about size/n = 30 % of 150 seeds (45, sd 5.6)."""
    counts = collections.Counter()
    dataset = tf.data.Dataset.from_tensor_slices([str(i) for i in range(10)])
    for seed in range(150):
        counts.update(sample_texts(dataset, 3, seed=seed, progress=None))
    assert sorted(counts) == [str(i) for i in range(10)]
    assert all(25 <= count <= 65 for count in counts.values()), counts


def test_tuples_are_sampled_whole(write):
    path = write("x.tsv", "".join(f"s{i}\tt{i}\n" for i in range(50)))
    sample = sample_texts(translation_stream(path), 5, seed=0, progress=None)
    assert len(sample) == 5 and all(s[1:] == t[1:] for s, t in sample)


def test_progress_lines():
    out = io.StringIO()
    sample_texts(texts(2500), 10, progress=1000, stream=out)
    assert out.getvalue().splitlines() == ["sample_texts: 1,024 lines read, 10 kept",
                                           "sample_texts: 2,048 lines read, 10 kept"]


def test_a_bad_line_stops_sampling_with_its_message(write):
    path = write("x.tsv", "a\tb\nbad\n")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}:2: expected 2 tab-separated fields (source<TAB>target), found 1")):
        sample_texts(translation_stream(path), 10, progress=None)


@pytest.mark.parametrize("options, message", [
    (dict(size=0), "size=0: expected an integer of at least 1"),
    (dict(size=5, seed=-1), "seed=-1: expected an integer of at least 0"),
    (dict(size=5, progress=1.5), "progress=1.5: expected an integer of at least 0"),
])
def test_bad_arguments(options, message):
    with pytest.raises(TfbigError, match=exactly(message)):
        sample_texts(texts(3), **options)
