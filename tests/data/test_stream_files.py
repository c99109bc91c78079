"""Tests for tfbig.data.stream_files: the files a path names, and every bad path's message."""

import gzip
import os
import re

import pytest

from tfbig.data.stream_files import (EXPECTED, base_name, compression_type, data_files, is_small,
                                     total_bytes)
from tfbig.errors import TfbigError


def exactly(message: str) -> str:
    """A ``match=`` pattern for the whole message, taken literally."""
    return "^" + re.escape(message) + "$"


def test_a_file_is_itself(write):
    path = write("x.tsv", "a\tb\n")
    assert data_files(path) == [path]


def test_a_folder_is_its_files_sorted_hidden_skipped(write, tmp_path):
    for name in ("part-2.tsv", "part-10.tsv", "part-1.tsv.gz", ".DS_Store", ".part-3.tsv.swp"):
        write(f"shards/{name}", "a\tb\n")
    folder = str(tmp_path / "shards")
    assert data_files(folder) == [os.path.join(folder, name)
                                  for name in ("part-1.tsv.gz", "part-10.tsv", "part-2.tsv")]


def test_a_glob_is_its_matches_sorted(write, tmp_path):
    for name in ("part-b.tsv.gz", "part-a.tsv.gz", "other.tsv.gz", "part-c.tsv"):
        write(f"data/{name}", b"")
    pattern = str(tmp_path / "data" / "part-*.tsv.gz")
    assert data_files(pattern) == [str(tmp_path / "data" / name)
                                   for name in ("part-a.tsv.gz", "part-b.tsv.gz")]


def test_an_existing_path_with_glob_characters_is_taken_literally(write, tmp_path):
    path = write("odd[1].tsv", "a\tb\n")
    write("odd1.tsv", "a\tb\n")  # what the pattern odd[1].tsv would match
    assert data_files(path) == [path]


def test_missing_path(tmp_path):
    path = str(tmp_path / "absent.tsv")
    with pytest.raises(TfbigError, match=exactly(
            f"{path}: no such file or folder (expected a data file, a folder of data files, "
            f"or a glob such as data/part-*.tsv.gz)")):
        data_files(path)


def test_glob_matching_nothing(tmp_path):
    pattern = str(tmp_path / "part-*.tsv.gz")
    with pytest.raises(TfbigError, match=exactly(
            f"{pattern}: no files match this pattern (expected {EXPECTED})")):
        data_files(pattern)


def test_glob_matching_a_folder(write, tmp_path):
    write("data/part-1/x.tsv", b"")
    pattern = str(tmp_path / "data" / "part-*")
    with pytest.raises(TfbigError, match=exactly(
            f"{pattern}: matches the folder {tmp_path / 'data' / 'part-1'}; expected a pattern "
            f"that matches data files only, such as data/part-*.tsv.gz")):
        data_files(pattern)


def test_empty_folder_and_hidden_only_folder(write, tmp_path):
    write("shards/.hidden", b"")
    folder = str(tmp_path / "shards")
    with pytest.raises(TfbigError, match=exactly(
            f"{folder}: no data files in this folder (hidden files are skipped; expected "
            f"{EXPECTED})")):
        data_files(folder)


def test_folder_with_a_sub_folder(write, tmp_path):
    write("imgs/cat/x.png", b"")
    write("imgs/a.tsv", b"")
    folder = str(tmp_path / "imgs")
    with pytest.raises(TfbigError, match=exactly(
            f"{folder}: contains the sub-folder cat/; expected a folder of data files only "
            f"(shards such as part-00000.tsv.gz)")):
        data_files(folder)


def test_compression_and_base_name():
    assert compression_type("d/part-1.TSV.GZ") == "GZIP"
    assert compression_type("d/part-1.tsv") == ""
    assert base_name("d/Part-1.CSV.gz") == "part-1.csv"
    assert base_name("d/notes.txt") == "notes.txt"


def test_total_bytes_and_is_small(write, tmp_path):
    plain = write("a.tsv", "a\tb\n" * 10)  # 40 bytes
    packed = str(tmp_path / "b.tsv.gz")
    with gzip.open(packed, "wb") as file:
        file.write(b"a\tb\n")
    assert total_bytes([plain]) == 40
    assert total_bytes([plain, packed]) == 40 + os.path.getsize(packed)
    assert is_small([plain], threshold_bytes=40)
    assert not is_small([plain], threshold_bytes=39)
    assert not is_small([packed], threshold_bytes=10**9)  # sources reads plain files only
    with pytest.raises(TfbigError, match=exactly(
            "threshold_bytes=-1: expected a number of bytes, 0 or more")):
        is_small([plain], threshold_bytes=-1)
