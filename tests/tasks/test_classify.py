"""The classify task end to end: BERT, LSTM and CNN learn the shipped reviews sample, and
bad label files fail early with messages that say what to fix."""

import json
import os
import re

import pytest
from tasks.task_checks import (check_evaluate, check_run_folder, predict_lines,
                               sample_lines, train_run, write_lines)

from tfbig import config as config_lib
from tfbig.errors import TfbigError
from tfbig.inference import load_run
from tfbig.tasks import get_task
from tfbig.tasks.labels import learn_labels
from tfbig.tasks import resolve_config

REVIEWS = 900  # lines of data/reviews.tsv: ~680 train, ~180 test, 3 balanced labels


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    return write_lines(tmp_path_factory.mktemp("data") / "reviews.tsv",
                       sample_lines("reviews.tsv", REVIEWS))


# Post-norm BERT wants a gentler rate than the LSTM and the CNN.
SETTINGS = {"bert": {"train.learning_rate": 1e-3, "train.schedule": "constant",
                     "train.epochs": 2, "train.steps_per_epoch": 60},
            "rnn": {"train.learning_rate": 1e-2, "train.epochs": 1,
                    "train.steps_per_epoch": 45},
            "cnn": {"train.learning_rate": 1e-2, "train.epochs": 3,
                    "data.augment": {"delete_rate": 0.05}}}  # the augmented pipeline too


@pytest.fixture(scope="module", params=["bert", "rnn", "cnn"])
def trained(request, reviews, tmp_path_factory):
    run_dir, summary = train_run(tmp_path_factory, **{
        "task": "classify", "model.name": request.param, "data.path": reviews,
        **SETTINGS[request.param]})
    return request.param, run_dir, summary


@pytest.mark.slow
def test_every_model_beats_the_majority_class(trained):
    model, _, summary = trained
    test = summary["test"]
    assert test["majority_class_accuracy"] < 0.45  # three balanced labels
    assert test["accuracy"] > test["majority_class_accuracy"] + 0.15, (model, test)
    assert test["macro_f1"] > 0.4, (model, test)


@pytest.mark.slow
def test_run_folder_predict_and_evaluate(trained, tmp_path):
    model, run_dir, summary = trained
    check_run_folder(run_dir, summary, ["tokenizer/vocab.txt", "labels.json",
                                        "plots/confusion_matrix.png", "plots/per_class.png"])
    with open(os.path.join(run_dir, "labels.json"), encoding="utf-8") as f:
        assert json.load(f) == ["negative", "neutral", "positive"]
    test = summary["test"]
    assert sum(map(sum, test["confusion_matrix"])) == test["examples"]
    assert set(test["per_class"]) == {"negative", "neutral", "positive"}

    lines = ["I love the battery.", "", "The lid is not sturdy and I hate the cable."]
    first, blank, last = predict_lines(load_run(run_dir), lines)
    assert {first, last} <= {"negative", "neutral", "positive"} and blank == ""
    if model == "bert":  # evaluate once: the same code path for every model
        _, rows = check_evaluate(run_dir, summary, tmp_path,
                                 plots=["confusion_matrix.png", "per_class.png"])
        assert list(rows[0]) == ["text", "label", "prediction", "loss"]


def test_labels_are_sorted_numerically_when_they_are_integers():
    assert learn_labels(["10", "9", "2", "9"]) == ["2", "9", "10"]
    assert learn_labels(["pos", "neg", "pos"]) == ["neg", "pos"]
    with pytest.raises(TfbigError, match=r"training split has 1 distinct label \('pos'\); "
                                         r"expected at least 2 classes"):
        learn_labels(["pos", "pos"])


def classify_config(path, **overrides):
    return resolve_config({"task": "classify", "data.path": path, **overrides})


def test_a_csv_with_integer_labels_in_any_column_order(tmp_path):
    rows = "".join(f'{i % 3 + 1},"text, number {i}"\n' for i in range(60))
    path = write_lines(tmp_path / "stars.csv", ["label,text\n", rows])
    splits, _ = get_task(classify_config(path)).load_splits()
    examples = splits["train"] + splits["validation"] + splits["test"]
    assert ("text, number 0", "1") in examples and ("text, number 59", "3") in examples


def test_a_validation_label_missing_from_training_stops_the_run(tmp_path):
    from tfbig.runs.fit import train

    train_file = write_lines(tmp_path / "train.tsv", sample_lines("reviews.tsv", 60))
    val_file = write_lines(tmp_path / "val.tsv", ["what a day\tsurprised\n"])
    config = classify_config(train_file, **{"data.val_path": val_file})
    with pytest.raises(TfbigError, match="^" + re.escape(
            f"{val_file}:1: label 'surprised' is not in the training labels (negative, "
            f"neutral, positive); add training examples of it or remove it") + "$"):
        train(config, str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()


def test_a_label_only_in_the_held_out_split_names_its_file_and_line(tmp_path):
    from tfbig.data.splits import split_name

    held_out = next(f"odd review {i}" for i in range(1000)
                    if split_name(f"odd review {i}") == "test")
    lines = [f"good thing {i}\tpos\n" if i % 2 else f"bad thing {i}\tneg\n" for i in range(40)]
    lines.insert(7, f"{held_out}\tmeh\n")  # line 8, and its only example is held out
    path = write_lines(tmp_path / "reviews.tsv", lines)
    with pytest.raises(TfbigError, match="^" + re.escape(
            f"{path}:8: label 'meh' is not in the training labels (neg, pos), and this example "
            f"falls in the test split; add training examples of it or remove it") + "$"):
        get_task(classify_config(path)).load_splits()


def test_evaluate_data_with_an_unknown_label_names_the_line_or_skips_it(tmp_path):
    from tfbig.data.sources import BadLineReport

    path = write_lines(tmp_path / "eval.csv", ['text,label\n', '"fine, really",pos\n',
                                               'so so,meh\n', 'awful,neg\n'])
    task = get_task(classify_config(path))
    task.labels = ["neg", "pos"]  # as load_assets reads them from a run's labels.json
    with pytest.raises(TfbigError, match="^" + re.escape(
            f"{path}:3: label 'meh' is not in the training labels (neg, pos); add training "
            f"examples of it or remove it") + "$"):
        task.read_examples(path)
    report = BadLineReport()
    assert task.read_examples(path, skip_bad_lines=True, report=report) == [
        ("fine, really", "pos"), ("awful", "neg")]
    assert report.skipped == 1 and report.reasons[0].startswith(f"{path}:3: label 'meh'")


def test_a_csv_without_a_label_column(tmp_path):
    path = write_lines(tmp_path / "reviews.csv", ["text,sentiment\n", "good,positive\n"])
    with pytest.raises(TfbigError, match=r"reviews\.csv:1: expected a header row naming text "
                                         r"and label columns, found: text, sentiment"):
        get_task(classify_config(path)).load_splits()


@pytest.mark.parametrize("task, model, valid", [
    ("classify", "gpt", "bert, rnn, cnn"), ("image", "bert", "vit, cnn"),
    ("lm", "bert", "gpt"), ("mlm", "rnn", "bert")])
def test_a_model_that_cannot_do_the_task_lists_the_ones_that_can(task, model, valid):
    # checked when the config is resolved (the CLIs), and again when a task is made from a
    # config built in Python
    python_made = config_lib.replace(config_lib.RunConfig(task=task), model={"name": model})
    for make in (lambda: resolve_config({"task": task, "model.name": model}),
                 lambda: get_task(python_made)):
        with pytest.raises(TfbigError, match=rf"--model {model} cannot do the {task} task; use "
                                             rf"one of: {valid}"):
            make()


def test_binary_metrics_add_roc_auc_and_the_most_confused_pairs(tmp_path, monkeypatch):
    import numpy as np

    path = write_lines(tmp_path / "x.tsv", ["a\tneg\n", "b\tpos\n"])
    task = get_task(classify_config(path))
    task.labels = ["neg", "pos"]
    examples = [("a", "neg"), ("b", "pos"), ("c", "pos"), ("d", "neg"), ("e", "pos")]
    logits = np.array([[1, 0], [0, 2], [0.5, 0], [0, 1], [0, 3]], np.float32)
    monkeypatch.setattr(task, "logits", lambda model, examples, batch_size=None: logits)
    metrics, rows = task.final_metrics(None, examples)
    # Margins -1, 2, -0.5, 1, 3: positives (2, -0.5, 3) beat negatives (-1, 1) in 5 of 6 pairs.
    assert metrics["roc_auc"] == pytest.approx(5 / 6)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["confusion_matrix"] == [[1, 1], [1, 2]]
    assert metrics["most_confused"] == [{"true": "neg", "predicted": "pos", "count": 1},
                                        {"true": "pos", "predicted": "neg", "count": 1}]
    assert [row["prediction"] for row in rows] == ["neg", "pos", "neg", "pos", "pos"]
    # One label only among the examples: no ROC-AUC (it needs both), the rest as usual.
    monkeypatch.setattr(task, "logits", lambda model, examples, batch_size=None: logits[1:3])
    assert "roc_auc" not in task.final_metrics(None, examples[1:3])[0]
