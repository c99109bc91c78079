"""JSON Lines data (tfbig.data.jsonl, tfbig.data.stream_jsonl): named fields, integer labels,
gzip, and every bad line named by file and line, the same in memory and streamed."""

import gzip
import json
import re

import pytest

from tfbig.data.jsonl import is_jsonl, numbered_jsonl, read_jsonl, write_jsonl
from tfbig.data.sources import BadLineReport
from tfbig.data.stream import jsonl_stream
from tfbig.data.stream_bad_lines import iterate
from tfbig.errors import TfbigError

LABELLED = (("text", "text"), ("label", "label"))
PAIRS = (("source", "text"), ("target", "text"))


def _file(tmp_path, name, lines):
    path = tmp_path / name
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return str(path)


def both(path, fields, **options):
    """The examples as the in-memory reader and as the stream read them."""
    memory = list(read_jsonl(path, fields, **options))
    streamed = list(iterate(jsonl_stream(path, fields, labels=options.get("labels"))))
    return memory, streamed


@pytest.mark.parametrize("name", ["data.jsonl", "data.jsonl.gz"])
def test_named_fields_come_out_stripped_in_order_the_rest_ignored(tmp_path, name):
    path = _file(tmp_path, name, [
        '\ufeff{"text": " a fine film ", "label": "pos", "id": 7}',
        "",
        '{"label": 0, "text": "dull"}',  # keys in any order; an integer label
        '   ',
        '{"text": "tab\\there, and é", "label": "neg"}'])
    expected = [("a fine film", "pos"), ("dull", "0"), ("tab\there, and é", "neg")]
    assert both(path, LABELLED) == (expected, expected)
    assert both(path, (("text", "text"),)) == ([e[0] for e in expected],) * 2  # lm, mlm


def test_custom_keys(tmp_path):
    path = _file(tmp_path, "pairs.jsonl", ['{"de": "Hallo", "en": "Hello"}'])
    assert both(path, (("de", "text"), ("en", "text"))) == ([("Hallo", "Hello")],) * 2


@pytest.mark.parametrize("line, reason", [
    ('{"text": "x", "label": "a"', "not valid JSON (Expecting ',' delimiter at column 27)"),
    ('["x", "a"]', 'expected a JSON object with "text" and "label" fields, found an array'),
    ('{"text": "x"}', 'no "label" field (expected a JSON object with "text" and "label" '
                      'fields)'),
    ('{"text": 3, "label": "a"}', 'field "text" is a number, expected a string'),
    ('{"text": "x", "label": true}', 'field "label" is a boolean, expected a string or an '
                                     'integer'),
    ('{"text": "x", "label": 1.5}', 'field "label" is a number, expected a string or an '
                                    'integer'),
    ('{"text": " ", "label": "a"}', 'empty "text" field'),
])
def test_a_bad_line_is_named_by_file_and_line_in_memory_and_streamed(tmp_path, line, reason):
    path = _file(tmp_path, "data.jsonl", ['{"text": "ok", "label": "a"}', line])
    message = "^" + re.escape(f"{path}:2: {reason}") + "$"
    with pytest.raises(TfbigError, match=message):
        list(read_jsonl(path, LABELLED))
    with pytest.raises(TfbigError, match=message):
        list(iterate(jsonl_stream(path, LABELLED)))


def test_bad_utf8_and_unknown_labels_are_bad_lines_too(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"text": "ok", "label": "a"}\n{"text": "\xff", "label": "a"}\n'
                     b'{"text": "ok", "label": "z"}\n')
    report = BadLineReport()
    assert list(read_jsonl(str(path), LABELLED, skip_bad_lines=True, report=report,
                           labels=["a"])) == [("ok", "a")]
    assert report.reasons == [f"{path}:2: not valid UTF-8 (byte 0xff at column 11)",
                              f"{path}:3: label 'z' is not in the training labels (a); add "
                              f"training examples of it or remove it"]
    streamed = BadLineReport()
    assert list(iterate(jsonl_stream(str(path), LABELLED, labels=["a"], max_bad_lines=2,
                                     report=streamed))) == [("ok", "a")]
    assert streamed.reasons == report.reasons


def test_past_max_bad_lines_the_stream_stops_with_the_count_and_the_first(tmp_path):
    lines = ['{"source": "a", "target": "b"}'] * 5 + ["not json"] * 3
    path = _file(tmp_path, "part-0.jsonl.gz", lines)
    with pytest.raises(TfbigError, match=r"3 bad lines, more than max_bad_lines=2 allows; "
                                         r"first: .*part-0\.jsonl\.gz:6: not valid JSON"):
        list(iterate(jsonl_stream(path, PAIRS, max_bad_lines=2)))


def test_a_file_without_examples_is_an_error(tmp_path):
    path = _file(tmp_path, "empty.jsonl", ["", " "])
    with pytest.raises(TfbigError, match="empty.jsonl: contains no examples"):
        list(read_jsonl(path, PAIRS))


def test_write_then_read_gives_the_examples_back(tmp_path):
    examples = [("a\tb", "1"), ('quote " and\nnewline', "2")]
    write_jsonl(tmp_path / "out.jsonl", examples, ["text", "label"])
    assert list(read_jsonl(str(tmp_path / "out.jsonl"), LABELLED)) == examples
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0]) == {
        "text": "a\tb", "label": "1"}


def test_numbered_lines_name_where_an_example_is(tmp_path):
    path = _file(tmp_path, "data.jsonl", ['{"text": "a", "label": "x"}', "", "bad",
                                          '{"text": "b", "label": 2}'])
    assert list(numbered_jsonl(path, LABELLED)) == [(1, ("a", "x")), (4, ("b", "2"))]


def test_is_jsonl_by_name():
    assert is_jsonl("x/Data.JSONL") and is_jsonl("part-1.jsonl.gz")
    assert not is_jsonl("data.json") and not is_jsonl("data.tsv.gz")
