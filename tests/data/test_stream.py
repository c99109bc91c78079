"""Tests for the text streams (tfbig.data.stream, stream_lines, stream_bad_lines): shards,
gzip, the same examples and bad lines as tfbig.data.sources, bad-line limits and messages."""

import collections
import gzip
import os
import random
import re

import pytest
import tensorflow as tf

from tfbig.data.sources import BadLineReport, read_labelled, read_pairs, read_texts
from tfbig.data.stream import (labelled_stream, line_dataset, text_stream,
                               translation_stream)
from tfbig.data.stream_bad_lines import iterate
from tfbig.data.stream_lines import (WHITESPACE_CODE_POINTS, drop_bom, is_valid_utf8, strip)
from tfbig.errors import TfbigError


def exactly(message: str) -> str:
    """A ``match=`` pattern for the whole message, taken literally."""
    return "^" + re.escape(message) + "$"


def write_gzip(path, content: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as file:
        file.write(content)
    return str(path)


def shards(tmp_path, count=5, lines=8, bad=None):
    """``count`` gzip shards of ``lines`` pairs each; ``bad = (shard, line)`` spoils one line."""
    paths = []
    for shard in range(1, count + 1):
        rows = [f"source {shard}.{line}\ttarget {shard}.{line}" for line in range(1, lines + 1)]
        if bad and bad[0] == shard:
            rows[bad[1] - 1] = "no tab on this line"
        content = "\n".join(rows).encode() + b"\n"
        paths.append(write_gzip(tmp_path / "shards" / f"part-{shard}.tsv.gz", content))
    return paths


# --- line_dataset ----------------------------------------------------------------------------

def test_line_dataset_reads_gzip_shards_with_file_and_line_numbers(tmp_path):
    paths = shards(tmp_path, count=3, lines=2)
    got = sorted((file.decode(), number, line.decode())
                 for line, file, number in line_dataset(paths).as_numpy_iterator())
    assert got == sorted((path, n, f"source {s}.{n}\ttarget {s}.{n}")
                         for s, path in enumerate(paths, start=1) for n in (1, 2))


def test_line_dataset_takes_a_folder_or_a_glob_and_mixes_plain_and_gzip(write, tmp_path):
    write("data/part-0.tsv", "plain\n")
    write_gzip(tmp_path / "data" / "part-1.tsv.gz", b"packed\n")
    for path in (tmp_path / "data", str(tmp_path / "data" / "part-*")):
        lines = [line for line, _, _ in line_dataset(path, cycle_length=1).as_numpy_iterator()]
        assert lines == [b"plain", b"packed"]


def test_line_dataset_shards_split_the_files(tmp_path):
    paths = shards(tmp_path, count=5, lines=3)
    seen = []
    for index in range(2):
        files = {file for _, file, _ in line_dataset(paths, num_shards=2, shard_index=index)
                 .as_numpy_iterator()}
        seen.append(files)
    assert seen[0] | seen[1] == {path.encode() for path in paths}
    assert not seen[0] & seen[1]


def test_line_dataset_order_is_deterministic(tmp_path):
    paths = shards(tmp_path, count=4, lines=20)
    runs = [list(line_dataset(paths, cycle_length=3).as_numpy_iterator()) for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize("options, message", [
    (dict(num_shards=0), "num_shards=0: expected a number of shards, 1 or more"),
    (dict(num_shards=2, shard_index=2),
     "shard_index=2: expected a shard from 0 to 1 (num_shards=2)"),
    (dict(num_shards=3), "2 files cannot be sharded 3 ways: every shard needs at least one "
                         "file; split the corpus into at least 3 files"),
])
def test_line_dataset_bad_sharding(write, options, message):
    files = [write("a.txt", "a\n"), write("b.txt", "b\n")]
    with pytest.raises(TfbigError, match=exactly(message)):
        line_dataset(files, **options)


def test_line_dataset_needs_files():
    with pytest.raises(TfbigError, match=exactly(
            "files=[]: expected at least one data file (tfbig.data.stream_files.data_files "
            "lists them)")):
        line_dataset([])


# --- the per-line rules, as TF ops -----------------------------------------------------------

def test_whitespace_is_pythons():
    assert WHITESPACE_CODE_POINTS == tuple(c for c in range(0x110000) if chr(c).isspace())


def random_bytes(rng, count):
    pieces = [b"a", b"\t", b" ", b"\xc3\xa9", b"\xe2\x80\x83", b"\xef\xbb\xbf", b"\xff",
              b"\xc3", b"\xa9", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\x80", b"\x00",
              b"\x0b", b"\xc2\x85", b"\xf0\x9f\x98\x80", b"\xe3\x80\x80"]
    return [b"".join(rng.choice(pieces) for _ in range(rng.randrange(6))) for _ in range(count)]


def test_utf8_validity_and_strip_match_python_eagerly_and_in_tf_data(eager_and_mapped):
    rng = random.Random(0)
    lines = random_bytes(rng, 3000)

    def python_valid(raw):
        try:
            raw.decode("utf-8")
            return True
        except UnicodeDecodeError:
            return False

    valid = eager_and_mapped(is_valid_utf8, lines)
    assert list(valid) == [python_valid(raw) for raw in lines]
    good = [raw for raw in lines if python_valid(raw)]
    stripped = eager_and_mapped(strip, good)
    assert [s.decode() for s in stripped] == [raw.decode().strip() for raw in good]


def test_drop_bom_only_on_a_files_first_line(eager_and_mapped):
    lines = [b"\xef\xbb\xbfa", b"\xef\xbb\xbfa", b"\xef\xbb", b""]
    numbers = [1, 2, 1, 1]
    assert list(eager_and_mapped(drop_bom, lines, numbers)) == [b"a", b"\xef\xbb\xbfa",
                                                                b"\xef\xbb", b""]


# --- the same examples and bad lines as sources.py -------------------------------------------

def random_tsv(rng, lines=60, tab_fields=(1, 2, 2, 2, 3)):
    """Random TSV bytes: good, blank, whitespace-only, bad-column, empty-field, non-UTF-8."""
    words = [b"a", b"b c", b" ", b"\t", b"\xc3\xa9", b"\xe2\x80\x83", b"\x0b", b"\xff", b"",
             b"\xef\xbb\xbf", b"label", b"\xc2\xa0"]
    rows = []
    for _ in range(lines):
        fields = [b"".join(rng.choice(words) for _ in range(rng.randrange(3)))
                  for _ in range(rng.choice(tab_fields))]
        rows.append(b"\t".join(fields) + rng.choice([b"\n", b"\r\n"]))
    return (rng.choice([b"", b"\xef\xbb\xbf"]) + b"".join(rows) + b"good\tline\n")


def read_all(reader, path, **options):
    report = BadLineReport(max_reasons=10**6)
    examples = list(reader(path, skip_bad_lines=True, report=report, **options))
    return examples, report.reasons


def stream_all(stream, files, **options):
    report = BadLineReport(max_reasons=10**6)
    examples = list(iterate(stream(files, max_bad_lines=None, report=report, **options)))
    return examples, report.reasons


@pytest.mark.parametrize("seed", range(3))
def test_translation_stream_matches_read_pairs(tmp_path, seed):
    rng = random.Random(seed)
    paths = [str(tmp_path / f"part-{i}.tsv") for i in range(3)]
    expected_examples, expected_reasons = [], []
    for path in paths:
        with open(path, "wb") as file:
            file.write(random_tsv(rng))
        examples, reasons = read_all(read_pairs, path)
        expected_examples += examples
        expected_reasons += reasons
    assert expected_reasons  # the corpus does have bad lines of each kind
    # One file after the other: the very same list; interleaved: the same multiset.
    assert stream_all(translation_stream, paths, cycle_length=1) == (
        expected_examples, expected_reasons)
    examples, reasons = stream_all(translation_stream, paths)
    assert collections.Counter(examples) == collections.Counter(expected_examples)
    assert collections.Counter(reasons) == collections.Counter(expected_reasons)


@pytest.mark.parametrize("labels", [None, ["label", "b c"]])
def test_labelled_stream_tsv_matches_read_labelled(tmp_path, labels):
    path = str(tmp_path / "x.tsv")
    with open(path, "wb") as file:
        file.write(random_tsv(random.Random(7), lines=120) + b"text\tlabel\n")
    assert stream_all(labelled_stream, path, labels=labels) == read_all(
        read_labelled, path, labels=labels)


def test_text_stream_matches_read_texts(tmp_path):
    path = str(tmp_path / "x.txt")
    with open(path, "wb") as file:
        file.write(random_tsv(random.Random(3), lines=120))
    assert stream_all(text_stream, path) == read_all(read_texts, path)


def test_gzip_streams_like_the_plain_file(tmp_path):
    content = random_tsv(random.Random(5))
    plain = tmp_path / "x.tsv"
    plain.write_bytes(content)
    packed = write_gzip(tmp_path / "x.tsv.gz", content)
    examples, reasons = stream_all(translation_stream, packed)
    expected_examples, expected_reasons = stream_all(translation_stream, str(plain))
    assert examples == expected_examples
    assert reasons == [reason.replace(str(plain), packed, 1) for reason in expected_reasons]


def test_a_carriage_return_inside_a_line_is_lost(write):
    """The one known difference (stream_lines' docstring): TextLineDataset drops every \\r."""
    path = write("x.tsv", b"a\rb\tc\r\n")
    assert list(read_pairs(path)) == [("a\rb", "c")]
    assert list(iterate(translation_stream(path))) == [("ab", "c")]


# --- bad lines: where, how many, and the error ----------------------------------------------

def test_a_bad_line_in_shard_3_is_named_by_file_and_line(tmp_path):
    paths = shards(tmp_path, count=5, lines=8, bad=(3, 7))
    message = f"{paths[2]}:7: expected 2 tab-separated fields (source<TAB>target), found 1"
    with pytest.raises(TfbigError, match=exactly(message)):
        list(iterate(translation_stream(tmp_path / "shards")))  # max_bad_lines=0
    report = BadLineReport()
    pairs = list(iterate(translation_stream(paths, max_bad_lines=1, report=report)))
    assert len(pairs) == 5 * 8 - 1
    assert (report.skipped, report.reasons) == (1, [message])


def test_more_bad_lines_than_allowed_stops_with_count_and_first(write):
    path = write("x.tsv", "a\tb\nbad\nc\t\nok\tok\n\xff\n".encode("latin-1") + b"\xff\n")
    report = BadLineReport()
    with pytest.raises(TfbigError, match=exactly(
            f"3 bad lines, more than max_bad_lines=2 allows; first: {path}:2: expected 2 "
            f"tab-separated fields (source<TAB>target), found 1; fix the data or raise "
            f"max_bad_lines")):
        list(iterate(translation_stream(path, max_bad_lines=2, report=report)))
    assert report.skipped == 3
    assert report.reasons[1:] == [f"{path}:3: empty target field",
                                  f"{path}:5: not valid UTF-8 (byte 0xff at column 1)"]


def test_the_stream_goes_on_past_bad_lines_within_the_limit(write):
    path = write("x.tsv", "bad\na\tb\nbad\nc\td\n")
    report = BadLineReport()
    assert list(iterate(translation_stream(path, max_bad_lines=2, report=report))) == [
        ("a", "b"), ("c", "d")]
    assert report.skipped == 2


def test_a_bad_line_is_counted_once_over_epochs(write):
    path = write("x.tsv", "bad\na\tb\n")
    report = BadLineReport()
    dataset = translation_stream(path, max_bad_lines=1, report=report).repeat(3)
    assert list(iterate(dataset)) == [("a", "b")] * 3
    assert report.skipped == 1


def test_without_iterate_the_tf_error_still_holds_the_message(write):
    path = write("x.tsv", "a\tb\nbad\n")
    with pytest.raises(tf.errors.OpError, match=re.escape(f"{path}:2: expected 2")):
        list(translation_stream(path))


def test_iterate_leaves_other_tf_errors_alone():
    dataset = tf.data.Dataset.from_tensors(float("nan")).map(
        lambda x: tf.debugging.check_numerics(x, "not a stream error"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a stream error"):
        list(iterate(dataset))


def test_bad_max_bad_lines(write):
    with pytest.raises(TfbigError, match=exactly(
            "max_bad_lines=-1: expected a number of bad lines to skip, 0 or more (0: the first "
            "bad line is an error), or None to skip them all")):
        translation_stream(write("x.tsv", "a\tb\n"), max_bad_lines=-1)


def test_stream_inside_a_tf_function_pipeline_gives_the_same_pairs(write):
    path = write("x.tsv", "a\tb\n\n c \td \n")
    stream = translation_stream(path).map(lambda s, t: tf.strings.join([s, t], "|"))
    assert list(iterate(stream)) == ["a|b", "c|d"]


def test_labelled_stream_refuses_csv_and_tsv_together(write):
    csv_file, tsv_file = write("a.csv", "text,label\n"), write("b.tsv", "a\tb\n")
    with pytest.raises(TfbigError, match=exactly(
            f"{csv_file} is CSV but {tsv_file} is not: expected the files of one stream to be "
            f"all .csv or all text<TAB>label TSV")):
        labelled_stream([csv_file, tsv_file])
    assert os.path.exists(csv_file)
