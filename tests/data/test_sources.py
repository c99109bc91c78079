"""Tests for tfbig.data.sources: every reader on good and malformed files, exact messages."""

import re
import types
from pathlib import Path

import pytest

from tfbig.data.sources import (BadLineReport, list_images, read_labelled,
                                read_pairs, read_texts)
from tfbig.errors import TfbigError

DATA = Path(__file__).resolve().parents[2] / "data"  # the shipped samples


def exactly(message: str) -> str:
    """A ``match=`` pattern for the whole message, taken literally."""
    return "^" + re.escape(message) + "$"


# --- read_pairs ------------------------------------------------------------------------------

def test_read_pairs_reads_bom_crlf_blank_lines_and_strips_fields(write):
    path = write("x.tsv", b"\xef\xbb\xbfMarch 4, 2021\t2021-03-04\r\n\r\n"
                          b"  4 May 1999 \t1999-05-04\n\n")
    assert list(read_pairs(path)) == [("March 4, 2021", "2021-03-04"), ("4 May 1999", "1999-05-04")]


def test_read_pairs_is_lazy():
    assert isinstance(read_pairs(DATA / "dates.tsv"), types.GeneratorType)


@pytest.mark.parametrize("reader, name, line", [
    (read_pairs, "big.tsv", "source sentence number {i} with some words\ttarget {i}\n"),
    (read_labelled, "big.tsv", "a review text number {i} with some words\tlabel{m}\n"),
    (read_labelled, "big.csv", '"a review, number {i}, with some words",label{m}\n'),
    (read_texts, "corpus/part.txt", "a line of a text corpus, number {i}, with some words\n"),
])
def test_readers_stream_a_large_file_in_constant_memory(tmp_path, reader, name, line):
    """A ~10 MB file is read line by line: Python's peak allocation while consuming every
    example stays far below the file's size (reading it whole would need all of it)."""
    import tracemalloc

    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        if name.endswith(".csv"):
            f.write("text,label\n")
        f.writelines(line.format(i=i, m=i % 3) for i in range(200_000))
    size = path.stat().st_size
    assert size > 9_000_000
    target = tmp_path / "corpus" if name.startswith("corpus/") else path
    tracemalloc.start()
    try:
        count = sum(1 for _ in reader(target))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < size / 20, f"peak {peak:,} bytes while reading a {size:,}-byte file"


def test_read_pairs_reads_the_shipped_sample():
    pairs = list(read_pairs(DATA / "dates.tsv"))
    assert len(pairs) == 8000


def test_read_pairs_missing_file_fails_at_the_call(tmp_path):
    path = str(tmp_path / "absent.tsv")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}: no such file (expected a TSV of source<TAB>target lines)")):
        read_pairs(path)


def test_read_pairs_folder_is_not_a_file(tmp_path):
    with pytest.raises(TfbigError, match=exactly(
            f"{tmp_path}: is a folder, not a file (expected a TSV of source<TAB>target lines)")):
        read_pairs(tmp_path)


@pytest.mark.parametrize("line, problem", [
    ("a\tb\tc", "expected 2 tab-separated fields (source<TAB>target), found 3"),
    ("only source", "expected 2 tab-separated fields (source<TAB>target), found 1"),
    ("a\t  ", "empty target field"),
    ("\tb", "empty source field"),
])
def test_read_pairs_bad_line_names_file_and_line(write, line, problem):
    path = write("x.tsv", f"good\tpair\n{line}\nalso\tgood\n")
    with pytest.raises(TfbigError, match=exactly(f"{path}:2: {problem}")):
        list(read_pairs(path))


def test_read_pairs_bad_utf8_reports_byte_and_column(write):
    path = write("x.tsv", "a\tb\n".encode() + b"\xc3\xa9x\xff\tb\n")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}:2: not valid UTF-8 (byte 0xff at column 3)")):
        list(read_pairs(path))


@pytest.mark.parametrize("content", ["", "\n  \n\r\n"])
def test_read_pairs_empty_file(write, content):
    path = write("x.tsv", content)
    with pytest.raises(TfbigError, match=exactly(f"{path}: contains no examples")):
        list(read_pairs(path))


def test_skip_bad_lines_counts_and_keeps_first_reasons(write):
    path = write("x.tsv", b"a\tb\nbad\nc\t\n\xff\td\ne\tf\n")
    report = BadLineReport(max_reasons=2)
    assert list(read_pairs(path, skip_bad_lines=True, report=report)) == [("a", "b"), ("e", "f")]
    assert report.skipped == 3
    assert report.reasons == [
        f"{path}:2: expected 2 tab-separated fields (source<TAB>target), found 1",
        f"{path}:3: empty target field"]
    assert str(report).startswith(f"skipped 3 bad lines; first: {path}:2: expected")


def test_skip_bad_lines_without_report_skips_silently(write):
    path = write("x.tsv", "bad\na\tb\n")
    assert list(read_pairs(path, skip_bad_lines=True)) == [("a", "b")]


def test_report_is_shared_across_readers(write):
    report = BadLineReport()
    for name in ("one.tsv", "two.tsv"):
        list(read_pairs(write(name, "bad\na\tb\n"), skip_bad_lines=True, report=report))
    assert report.skipped == 2
    assert str(BadLineReport()) == "no bad lines skipped"


def test_all_lines_bad_is_still_an_error(write):
    path = write("x.tsv", "bad\n")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}: contains no examples (skipped 1 bad line; first: {path}:1: expected 2 "
            f"tab-separated fields (source<TAB>target), found 1)")):
        list(read_pairs(path, skip_bad_lines=True))


# --- read_labelled ---------------------------------------------------------------------------

def test_read_labelled_tsv(write):
    path = write("x.tsv", "great phone\tpositive\nawful\t0\n")
    assert list(read_labelled(path)) == [("great phone", "positive"), ("awful", "0")]


def test_read_labelled_tsv_bad_line(write):
    path = write("x.tsv", "a\tpositive\nno label here\n")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}:2: expected 2 tab-separated fields (text<TAB>label), found 1")):
        list(read_labelled(path))


def test_read_labelled_csv_any_column_order_quotes_and_multiline(write):
    path = write("x.CSV", '\ufeffid,Label,text\r\n1,pos,"good, really"\r\n\r\n'
                          '2,neg,"two\nlines"\n3,neu,plain\n')
    assert list(read_labelled(path)) == [
        ("good, really", "pos"), ("two\nlines", "neg"), ("plain", "neu")]


def test_read_labelled_csv_without_header_columns(write):
    path = write("x.csv", "\nreview,sentiment\ngood,1\n")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}:2: expected a header row naming text and label columns, "
            f"found: review, sentiment")):
        list(read_labelled(path))


def test_read_labelled_csv_header_error_is_never_skipped(write):
    path = write("x.csv", "review,sentiment\ngood,1\n")
    with pytest.raises(TfbigError, match="expected a header row"):
        list(read_labelled(path, skip_bad_lines=True))


def test_read_labelled_csv_bad_rows_name_their_first_line(write):
    path = write("x.csv", 'text,label\n"multi\nline",pos,extra\nok\nfine,\n\xff,x\ngood,pos\n'
                 .encode("latin-1"))
    report = BadLineReport()
    assert list(read_labelled(path, skip_bad_lines=True, report=report)) == [("good", "pos")]
    assert report.reasons == [
        f"{path}:2: expected 2 comma-separated fields like the header (text,label), found 3",
        f"{path}:4: expected 2 comma-separated fields like the header (text,label), found 1",
        f"{path}:5: empty label field",
        f"{path}:6: not valid UTF-8 (byte 0xff at column 1)"]


def test_read_labelled_csv_with_header_only(write):
    path = write("x.csv", "text,label\n")
    with pytest.raises(TfbigError, match=exactly(f"{path}: contains no examples")):
        list(read_labelled(path))


def test_read_labelled_missing_file(tmp_path):
    path = str(tmp_path / "absent.csv")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}: no such file (expected a TSV of text<TAB>label lines, or a .csv with text "
            f"and label columns)")):
        read_labelled(path)


@pytest.mark.parametrize("name, content, line", [
    ("x.tsv", "good\tpos\n\nmeh\tneutral\nbad\tneg\n", 3),
    ("x.csv", 'label,text\npos,"two\nlines"\nneutral,meh\nneg,bad\n', 4),
])
def test_read_labelled_unknown_label_names_file_and_line(write, name, content, line):
    path = write(name, content)
    message = (f"{path}:{line}: label 'neutral' is not in the training labels (neg, pos); add "
               f"training examples of it or remove it")
    with pytest.raises(TfbigError, match=exactly(message)):
        list(read_labelled(path, labels=["neg", "pos"]))
    report = BadLineReport()
    kept = list(read_labelled(path, labels=["neg", "pos"], skip_bad_lines=True, report=report))
    assert [label for _, label in kept] == ["pos", "neg"]
    assert (report.skipped, report.reasons) == (1, [message])
    assert len(list(read_labelled(path))) == 3  # without known labels every label goes


def test_read_labelled_all_labels_unknown_is_no_examples(write):
    path = write("x.tsv", "a\tx\n")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}: contains no examples (skipped 1 bad line; first: {path}:1: label 'x' is "
            f"not in the training labels (neg, pos); add training examples of it or remove "
            f"it)")):
        list(read_labelled(path, labels=["neg", "pos"], skip_bad_lines=True))
    with pytest.raises(TfbigError, match=exactly(
            "labels='pos': expected a list of label strings, not one string")):
        read_labelled(path, labels="pos")


def test_numbered_labelled_gives_each_good_examples_first_line(write):
    from tfbig.data.sources import numbered_labelled

    path = write("x.csv", 'text,label\n"a\nb",pos\nbad\n\nc,neg\n')
    assert list(numbered_labelled(path)) == [(2, ("a\nb", "pos")), (6, ("c", "neg"))]


# --- read_texts ------------------------------------------------------------------------------

def test_read_texts_file_skips_blank_lines(write):
    path = write("c.txt", "\ufeff one \r\n\n   \ntwo\n")
    assert list(read_texts(path)) == ["one", "two"]


def test_read_texts_folder_is_sorted_and_recursive(write, tmp_path):
    write("corpus/b.txt", "b\n")
    write("corpus/a/z.TXT", "az\n")
    write("corpus/a.txt", "a\n")
    write("corpus/notes.md", "ignored\n")
    assert list(read_texts(tmp_path / "corpus")) == ["a", "az", "b"]


def test_read_texts_folder_without_txt(write, tmp_path):
    write("corpus/notes.md", "x\n")
    folder = tmp_path / "corpus"
    with pytest.raises(TfbigError, match=exactly(
            f"{folder}: no .txt files in this folder (expected a text file with one text per "
            f"line, or a folder of .txt files)")):
        read_texts(folder)


def test_read_texts_bad_utf8_in_folder_names_the_file(write, tmp_path):
    write("corpus/a.txt", "fine\n")
    bad = write("corpus/b.txt", b"ok\n\xfe\n")
    with pytest.raises(TfbigError, match=exactly(
            f"{bad}:2: not valid UTF-8 (byte 0xfe at column 1)")):
        list(read_texts(tmp_path / "corpus"))
    report = BadLineReport()
    assert list(read_texts(tmp_path / "corpus", skip_bad_lines=True, report=report)) == [
        "fine", "ok"]
    assert report.skipped == 1


def test_read_texts_missing_and_empty(write, tmp_path):
    missing = str(tmp_path / "absent.txt")
    with pytest.raises(TfbigError, match=exactly(
            f"{missing}: no such file (expected a text file with one text per line, or a "
            f"folder of .txt files)")):
        read_texts(missing)
    empty = write("empty.txt", "\n\n")
    with pytest.raises(TfbigError, match=exactly(f"{empty}: contains no examples")):
        list(read_texts(empty))


# --- list_images -----------------------------------------------------------------------------

def test_list_images(write, tmp_path):
    for name in ("dog/b.png", "dog/a.JPG", "cat/x.jpeg", "cat/readme.txt", ".hidden/y.png",
                 "cat/.ipynb_checkpoints/z.png"):
        write(f"imgs/{name}", b"")
    paths, labels, class_names = list_images(tmp_path / "imgs")
    assert class_names == ["cat", "dog"]
    assert [p.split("imgs")[1][1:] for p in paths] == ["cat/x.jpeg", "dog/a.JPG", "dog/b.png"]
    assert labels == [0, 1, 1]


def test_list_images_shipped_shapes():
    paths, labels, class_names = list_images(DATA / "shapes")
    assert class_names == ["circle", "square", "triangle"]
    assert [labels.count(i) for i in range(3)] == [250, 250, 250]


def test_list_images_needs_two_classes(write, tmp_path):
    write("imgs/cat/x.png", b"")
    folder = tmp_path / "imgs"
    with pytest.raises(TfbigError, match=exactly(
            f"{folder}: found 1 class folders (cat); expected at least 2 class_name/ folders "
            f"of .png/.jpg images")):
        list_images(folder)


def test_list_images_empty_class(write, tmp_path):
    write("imgs/cat/x.png", b"")
    write("imgs/dog/notes.txt", b"")
    with pytest.raises(TfbigError, match=exactly(
            f"{tmp_path / 'imgs' / 'dog'}: no .png/.jpg/.jpeg images (every class folder needs "
            f"at least one)")):
        list_images(tmp_path / "imgs")


def test_list_images_missing_or_file(write, tmp_path):
    with pytest.raises(TfbigError, match=exactly(
            f"{tmp_path / 'no'}: no such folder (expected a folder of class_name/*.png|*.jpg "
            f"images)")):
        list_images(tmp_path / "no")
    path = write("f.png", b"")
    with pytest.raises(TfbigError, match=re.escape(f"{path}: is a file, not a folder")):
        list_images(path)


