"""The classify task end to end: BERT, LSTM and CNN learn the shipped reviews sample, and
bad label files fail early with messages that say what to fix."""

import json
import os

import pytest
from tasks.task_checks import (check_evaluate, check_run_folder, predict_lines,
                               sample_lines, train_run, write_lines)

from tfbig import config as config_lib
from tfbig.errors import TfbigError
from tfbig.inference import load_run
from tfbig.tasks import get_task
from tfbig.tasks.labels import learn_labels

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
    assert set(predict_lines(load_run(run_dir), lines)) <= {"negative", "neutral", "positive"}
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
    return config_lib.resolve({"task": "classify", "data.path": path, **overrides})


def test_a_csv_with_integer_labels_in_any_column_order(tmp_path):
    rows = "".join(f'{i % 3 + 1},"text, number {i}"\n' for i in range(60))
    path = write_lines(tmp_path / "stars.csv", ["label,text\n", rows])
    splits, _ = get_task(classify_config(path)).load_splits()
    examples = splits["train"] + splits["validation"] + splits["test"]
    assert ("text, number 0", "1") in examples and ("text, number 59", "3") in examples


def test_a_validation_label_missing_from_training_stops_the_run(tmp_path):
    from tfbig.training.fit import train

    train_file = write_lines(tmp_path / "train.tsv", sample_lines("reviews.tsv", 60))
    val_file = write_lines(tmp_path / "val.tsv", ["what a day\tsurprised\n"])
    config = classify_config(train_file, **{"data.val_path": val_file})
    with pytest.raises(TfbigError, match=r"val\.tsv: label 'surprised' is not in the training "
                                         r"labels \(negative, neutral, positive\)"):
        train(config, str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()


def test_a_csv_without_a_label_column(tmp_path):
    path = write_lines(tmp_path / "reviews.csv", ["text,sentiment\n", "good,positive\n"])
    with pytest.raises(TfbigError, match=r"reviews\.csv:1: expected a header row naming text "
                                         r"and label columns, found: text, sentiment"):
        get_task(classify_config(path)).load_splits()


@pytest.mark.parametrize("task, model, valid", [
    ("classify", "gpt", "bert, rnn, cnn"), ("image", "bert", "vit, cnn"),
    ("lm", "bert", "gpt"), ("mlm", "rnn", "bert")])
def test_a_model_that_cannot_do_the_task_lists_the_ones_that_can(task, model, valid):
    config = config_lib.resolve({"task": task, "model.name": model})
    with pytest.raises(TfbigError, match=rf"--model {model} cannot do the {task} task; use one "
                                         rf"of: {valid}"):
        get_task(config)
