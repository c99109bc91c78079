"""The mlm task end to end: a tiny BERT learns to fill masks better than chance, predict
fills the [MASK]s a user writes and leaves the rest of the line alone."""

import math

import pytest
from tasks.task_checks import (check_evaluate, check_run_folder, predict_lines, sample_lines,
                               train_run, write_lines)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    corpus = write_lines(tmp_path_factory.mktemp("data") / "corpus.txt",
                         sample_lines("corpus.txt", 600))
    return train_run(tmp_path_factory, **{"task": "mlm", "data.path": corpus,
                                          "train.epochs": 2, "train.label_smoothing": 0.0})


def test_masked_metrics_and_learning(trained):
    run_dir, summary = trained
    test = summary["test"]
    assert test["masked_tokens"] > 0 and 0.0 <= test["masked_accuracy"] <= 1.0
    assert test["perplexity"] == pytest.approx(math.exp(test["cross_entropy"]))
    with open(f"{run_dir}/tokenizer/vocab.txt", encoding="utf-8") as f:
        vocab_size = sum(1 for _ in f)
    assert test["perplexity"] < vocab_size / 2  # far better than guessing uniformly


def test_run_folder_predict_and_evaluate(trained, tmp_path):
    from tfbig.inference import load_run

    run_dir, summary = trained
    check_run_folder(run_dir, summary, ["tokenizer/vocab.txt"])
    lines = ["the [MASK] runs to the park.", "no mask here", "[MASK] [MASK]", ""]
    filled, unchanged, both, blank = predict_lines(load_run(run_dir), lines)
    assert filled.startswith("the ") and filled.endswith(" runs to the park.")
    assert "[MASK]" not in filled and len(filled) > len("the  runs to the park.")
    assert unchanged == "no mask here" and blank == ""
    assert "[MASK]" not in both and len(both.split(" ")) == 2
    _, rows = check_evaluate(run_dir, summary, tmp_path)
    assert list(rows[0]) == ["text", "masked", "correct", "targets", "predictions", "loss"]
    assert sum(int(row["masked"]) for row in rows) == summary["test"]["masked_tokens"]
