"""The generated long-input sample: lengths, a summary that is the documents' counts, and
determinism (``tfbig.data.samples_documents``)."""

import collections

import pytest

from tfbig.data.samples_documents import NAMES, PLACES, document_pairs, main
from tfbig.errors import TfbigError


def test_documents_are_long_and_the_summary_is_their_most_frequent_name_and_place():
    pairs = document_pairs(200, seed=3)
    lengths = [len(source.split()) for source, _ in pairs]
    assert min(lengths) >= 150 and max(lengths) <= 420 and sum(lengths) / 200 > 250
    for source, summary in pairs:
        words = source.split()
        names = collections.Counter(word for word in words if word in NAMES)
        places = collections.Counter(word for word in words if word in PLACES)
        name, place = summary.split()
        assert names[name] == max(names.values()) and places[place] == max(places.values())
    assert len({summary.split()[0] for _, summary in pairs}) == len(NAMES)  # all used


def test_the_same_seed_gives_the_same_documents_whatever_the_count():
    assert document_pairs(5, seed=1) == document_pairs(20, seed=1)[:5]
    assert document_pairs(5, seed=1) != document_pairs(5, seed=2)
    short = document_pairs(3, seed=0, min_words=20, max_words=40)
    assert all(20 <= len(source.split()) <= 50 for source, _ in short)


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    with pytest.raises(TfbigError, match=r"seed=-1: expected a non-negative integer"):
        document_pairs(1, seed=-1)
    with pytest.raises(TfbigError, match=r"min_words=50, max_words=20: expected 10 <= "):
        document_pairs(1, min_words=50, max_words=20)
    assert main(["--output", str(tmp_path / "d.tsv"), "--count", "3"]) == 0
    assert (tmp_path / "d.tsv").read_text(encoding="utf-8").count("\t") == 3
    assert main(["--output", str(tmp_path), "--count", "1"]) == 2  # a folder
    assert capsys.readouterr().err.startswith("error: ")
