"""Tests for tfbig.data.stream_csv: CSV records, fields and headers in TF ops give what
Python's csv module gives through tfbig.data.sources.read_labelled, bad rows included."""

import csv
import gzip
import random
import re

import pytest
import tensorflow as tf

from tfbig.data.sources import BadLineReport, read_labelled
from tfbig.data import stream
from tfbig.data.stream import labelled_stream
from tfbig.data.stream_bad_lines import iterate
from tfbig.data.stream_csv_fields import parse_record
from tfbig.errors import TfbigError


def exactly(message: str) -> str:
    """A ``match=`` pattern for the whole message, taken literally."""
    return "^" + re.escape(message) + "$"


def read_all(path, **options):
    report = BadLineReport(max_reasons=10**6)
    examples = list(read_labelled(path, skip_bad_lines=True, report=report, **options))
    return examples, report.reasons


def stream_all(files, **options):
    report = BadLineReport(max_reasons=10**6)
    dataset = labelled_stream(files, max_bad_lines=None, report=report, cycle_length=1,
                              **options)
    return list(iterate(dataset)), report.reasons


RECORDS = ['a,b', '"a,b",c', '"say ""hi""",x', 'a""b,"c""d"e"f', '"",', ' "a",b', '"a"b,c',
           '"""",x', 'é,"ü\n\nz"', '"open\nline",2', '', '"', 'x"y,z', '"a""\n""b",c']


def test_parse_record_matches_csv_eagerly_and_in_tf_data():
    texts = [record + "\n" for record in RECORDS]  # what csv is fed
    eager = [parse_record(tf.constant(text)).numpy().tolist() for text in texts]
    mapped = [fields.tolist() for fields in
              tf.data.Dataset.from_tensor_slices(texts).map(parse_record).as_numpy_iterator()]
    assert mapped == eager
    for record, fields in zip(RECORDS, eager):
        expected = next(csv.reader(line + "\n" for line in record.split("\n")), [])
        # csv's [] (a blank line) is one empty field here; both are skipped as blank.
        assert [field.decode() for field in fields] == (expected or [""]), record


def random_csv(rng, header: str, good: str, rows: int = 40) -> bytes:
    """A CSV with quotes, doubled quotes, commas, line breaks in and out of quotes, blank
    lines, empty fields and lines that are not UTF-8."""
    tokens = ["a", "b c", ",", '"', '""', " ", "pos", "neg", "é", "\n", "\t", "", 'x"y',
              '"q,"', "\u2003", ",,", '",', ',"']
    lines = [header, good]  # one good row before anything can go wrong
    for _ in range(rows):
        if rng.random() < 0.05:
            lines.append("\udcff")  # written as the byte 0xff: not UTF-8
            continue
        lines.append("".join(rng.choice(tokens) for _ in range(rng.randrange(7))))
    text = "".join(line + rng.choice(["\n", "\r\n"]) for line in lines) + good + "\n"
    return text.encode("utf-8", errors="surrogateescape")


@pytest.mark.parametrize("seed, labels, batch_size, limit", [
    (0, None, 512, None),         # one batch per file
    (1, ["pos", "a"], 512, None),
    (2, None, 3, None),           # records carried from batch to batch
    (3, None, 4, 12),             # csv's field limit met: the line-by-line path, and back
])
def test_labelled_stream_csv_matches_read_labelled(tmp_path, monkeypatch, seed, labels,
                                                   batch_size, limit):
    monkeypatch.setattr(stream, "BATCH_SIZE", batch_size)
    old_limit = csv.field_size_limit(limit or csv.field_size_limit())
    try:
        rng = random.Random(seed)
        headers = [("text,label", "good,pos"), ("\ufeffid,Label,text", "1,pos,good"),
                   ("LABEL,Text", "pos,good"), ("text,label,extra", "good,pos,x")]
        paths, expected_examples, expected_reasons = [], [], []
        for i, (header, good) in enumerate(headers):
            path = tmp_path / f"part-{i}.csv"
            path.write_bytes(random_csv(rng, header, good))
            examples, reasons = read_all(str(path), labels=labels)
            paths.append(str(path))
            expected_examples += examples
            expected_reasons += reasons
        assert len(expected_reasons) > 10 and len(expected_examples) > len(headers)
        if limit:
            assert any("field larger than field limit" in reason for reason in expected_reasons)
        assert stream_all(paths, labels=labels) == (expected_examples, expected_reasons)
    finally:
        csv.field_size_limit(old_limit)


def test_csv_quotes_commas_line_breaks_and_bom(write):
    path = write("x.CSV", '\ufeffid,Label,text\r\n1,pos,"good, really"\r\n\r\n'
                          '2,neg,"two\nlines"\n3,neu,plain\n')
    assert list(iterate(labelled_stream(path))) == [
        ("good, really", "pos"), ("two\nlines", "neg"), ("plain", "neu")]


def test_csv_gzip_shards_each_with_its_header(tmp_path):
    paths = []
    for i, content in enumerate([b"text,label\na,pos\n", b"label,text\nneg,b\n"]):
        paths.append(str(tmp_path / f"part-{i}.csv.gz"))
        with gzip.open(paths[-1], "wb") as file:
            file.write(content)
    assert sorted(iterate(labelled_stream(paths))) == [("a", "pos"), ("b", "neg")]


def test_csv_bad_rows_name_their_first_line(write):
    path = write("x.csv", 'text,label\n"multi\nline",pos,extra\nok\nfine,\n\xff,x\ngood,pos\n'
                 .encode("latin-1"))
    assert stream_all(path) == read_all(path)
    with pytest.raises(TfbigError, match=exactly(
            f"{path}:2: expected 2 comma-separated fields like the header (text,label), "
            f"found 3")):
        list(iterate(labelled_stream(path)))


def test_csv_header_error_is_never_skipped(write):
    path = write("x.csv", "\nreview,sentiment\ngood,1\n")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}:2: expected a header row naming text and label columns, found: review, "
            f"sentiment")):
        list(iterate(labelled_stream(path, max_bad_lines=None)))


def test_csv_unknown_label(write):
    path = write("x.csv", 'label,text\npos,"two\nlines"\nneutral,meh\nneg,bad\n')
    with pytest.raises(TfbigError, match=exactly(
            f"{path}:4: label 'neutral' is not in the training labels (neg, pos); add "
            f"training examples of it or remove it")):
        list(iterate(labelled_stream(path, labels=["neg", "pos"])))


def test_an_unclosed_quote_holds_at_most_the_field_limit(write):
    """csv stops a field at csv.field_size_limit() characters and starts again on the next
    line; the stream does the same, so a stray quote never swallows the rest of a shard."""
    path = write("x.csv", 'text,label\n"stray quote, ' + "x" * 30 + "\n" + "y" * 30 + "\n"
                 + "after,pos\n" + ("z" * 60) + ",neg\nshort,neg\n")
    old = csv.field_size_limit(50)
    try:
        expected = read_all(path)
        assert stream_all(path) == expected
    finally:
        csv.field_size_limit(old)
    assert expected == ([("after", "pos"), ("short", "neg")], [
        f"{path}:2: malformed CSV (field larger than field limit (50))",
        f"{path}:5: malformed CSV (field larger than field limit (50))"])
