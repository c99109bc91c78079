"""End-to-end training into a run folder: contents, resume, and input errors."""

import csv
import os

import keras
import pytest

from tfbig import config as config_lib
from tfbig.errors import TfbigError
from tfbig.training import run_folder
from tfbig.training.fit import train

pytestmark = pytest.mark.slow

TINY = {"model.preset": "tiny", "train.batch_size": 16, "train.steps_per_epoch": 3,
        "train.epochs": 2, "train.jit_compile": False, "train.warmup_steps": 2}


@pytest.fixture(scope="module")
def dates_file(tmp_path_factory):
    import numpy as np

    from tfbig.data.samples import date_pairs

    path = tmp_path_factory.mktemp("data") / "dates.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in date_pairs(200, np.random.default_rng(1))),
                    encoding="utf-8")
    return str(path)


def tiny_config(data, **overrides):
    return config_lib.resolve({**TINY, "data.path": data, **overrides})


class StopAtEpoch(keras.callbacks.Callback):
    """Simulates a killed run: raises when ``epoch`` begins."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


class EpochRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def history_epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def finished_run(dates_file, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("finished") / "run")
    # With source-side augmentation on, so that path trains too.
    config = tiny_config(dates_file, **{"data.augment": {"delete_rate": 0.05}})
    return run_dir, train(config, run_dir, verbose=0)


def test_run_folder_has_everything_the_contract_lists(finished_run):
    run_dir, summary = finished_run
    for entry in ("config.json", "model.keras", "history.csv", "metrics.json",
                  "checkpoints/best.weights.h5", "checkpoints/last.weights.h5",
                  "tensorboard", "plots/history.png", "plots/learning_rate.png",
                  "source_tokenizer/vocab.txt", "target_tokenizer/vocab.txt"):
        assert os.path.exists(os.path.join(run_dir, entry)), entry
    assert not os.path.exists(os.path.join(run_dir, "backup"))  # deleted after success
    saved = run_folder.read_json(os.path.join(run_dir, "metrics.json"))
    assert saved == summary
    for split in ("validation", "test"):
        assert 0.0 <= saved[split]["exact_match"] <= 1.0
        assert saved[split]["perplexity"] > 1.0
    assert saved["train_tokens_per_second"] > 0
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    assert {"tokens_per_second", "learning_rate", "val_bleu"} <= set(header), header
    resolved = config_lib.from_dict(run_folder.read_json(os.path.join(run_dir, "config.json")))
    assert resolved.data.max_source_length > 0 and resolved.data.max_target_length > 0
    assert history_epochs(run_dir) == [0, 1]


def test_interrupted_run_resumes_from_the_last_finished_epoch(dates_file, tmp_path):
    run_dir = str(tmp_path / "run")
    config = tiny_config(dates_file, **{"train.epochs": 4})
    with pytest.raises(KeyboardInterrupt):
        train(config, run_dir, callbacks=[StopAtEpoch(2)], verbose=0)
    assert run_folder.run_state(run_dir) == "interrupted"
    assert history_epochs(run_dir) == [0, 1]

    recorder = EpochRecorder()
    train(config, run_dir, callbacks=[recorder], verbose=0)
    assert recorder.epochs == [2, 3]  # continued, not restarted
    assert history_epochs(run_dir) == [0, 1, 2, 3]
    assert run_folder.run_state(run_dir) == "finished"


def test_resume_with_a_different_config_is_refused(dates_file, tmp_path):
    run_dir = str(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(dates_file), run_dir, callbacks=[StopAtEpoch(1)], verbose=0)
    with pytest.raises(TfbigError, match=r"holds an interrupted run with another config "
                                         r"\(model\.d_model: 64 → 32"):
        train(tiny_config(dates_file, **{"model.d_model": 32}), run_dir, verbose=0)


def test_a_finished_run_is_not_overwritten_without_asking(dates_file, tmp_path):
    run_dir = str(tmp_path / "run")
    train(tiny_config(dates_file, **{"train.epochs": 1}), run_dir, verbose=0)
    with pytest.raises(TfbigError, match=r"already holds a finished run .*--overwrite"):
        train(tiny_config(dates_file), run_dir, verbose=0)


def test_bad_data_fails_before_the_run_folder_is_created(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("one\tuno\ntwo\tdos\tdrei\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    with pytest.raises(TfbigError, match=r"bad\.tsv:2: expected 2 tab-separated fields"):
        train(tiny_config(str(bad)), str(run_dir), verbose=0)
    assert not run_dir.exists()


def test_batch_larger_than_the_data_is_a_clear_error(dates_file, tmp_path):
    config = tiny_config(dates_file, **{"train.batch_size": 1000, "train.steps_per_epoch": 0})
    with pytest.raises(TfbigError, match=r"train\.batch_size=1000 is larger than the \d+ "
                                         r"training examples"):
        train(config, str(tmp_path / "run"), verbose=0)


def test_evaluate_on_the_held_out_split_matches_metrics_json(finished_run, tmp_path):
    from tfbig.evaluation.report import evaluate_run

    run_dir, summary = finished_run
    metrics, output_dir = evaluate_run(run_dir, output_dir=str(tmp_path / "eval"))
    assert metrics["data"] == "test"
    for key, value in summary["test"].items():
        assert metrics[key] == pytest.approx(value, rel=1e-5), key
    for name in ("metrics.json", "predictions.tsv", "worst_examples.tsv",
                 "attention_cross.png"):
        assert os.path.getsize(os.path.join(output_dir, name)) > 0
    with open(os.path.join(output_dir, "predictions.tsv"), encoding="utf-8") as f:
        assert sum(1 for _ in f) == summary["test"]["examples"] + 1  # header + one per example


def test_augmentation_names_are_checked_before_training(dates_file, tmp_path):
    config = tiny_config(dates_file, **{"data.augment": {"delete_rat": 0.1}})
    with pytest.raises(TfbigError, match=r"unknown text augmentation 'delete_rat'; valid keys: "
                                         r"delete_rate"):
        train(config, str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()
