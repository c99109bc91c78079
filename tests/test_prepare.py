"""``python -m tfbig.prepare``: a prepared folder trains exactly as its raw corpus does.

The prepared run reads the shards round-robin (the corpus's order, ``tfbig.runs.prepare``)
and shuffles with the raw run's seed and buffer, so its batches — and so its training and
final metrics — are the raw run's, not merely close.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tfbig.errors import TfbigError
from tfbig.tasks import get_task, resolve_config
from tfbig.tasks.data_files import SAMPLE_DIR

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
TINY = {"model.num_layers": 1, "model.d_model": 16, "model.num_heads": 2, "model.dff": 32,
        "train.batch_size": 16, "train.epochs": 1, "train.steps_per_epoch": 3,
        "train.jit_compile": False, "train.epoch_metrics_examples": 0, "train.seed": 3,
        "data.validation_split": 0.05, "data.test_split": 0.05}


def tfbig(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          env=ENV, timeout=600)


def assert_one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def dates_file(tmp_path_factory):
    """The first 400 lines of the shipped sample."""
    path = tmp_path_factory.mktemp("data") / "dates.tsv"
    with open(os.path.join(SAMPLE_DIR, "dates.tsv"), encoding="utf-8") as f:
        path.write_text("".join(next(f) for _ in range(400)), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def prepared(dates_file, tmp_path_factory):
    from tfbig.runs.prepare import prepare

    folder = str(tmp_path_factory.mktemp("prepared") / "dates")
    prepare(resolve_config({**TINY, "data.path": dates_file}), folder)
    return folder


def test_prepare_writes_shards_assets_held_out_and_info(prepared):
    with open(os.path.join(prepared, "prepared.json"), encoding="utf-8") as f:
        info = json.load(f)
    assert info["format"] == 2 and info["task"] == "translate" and info["seed"] == 3
    assert info["features"] == [["source", "ids"], ["target", "ids"]]
    assert info["shards"] == [f"train-{i:05d}-of-00008.tfrecord" for i in range(8)]
    assert sum(info["counts"].values()) == 400
    assert sum(info["lengths"].values()) == info["counts"]["train"]
    assert info["data"]["tokenizer"] == "char" and info["data"]["max_target_length"] > 3
    for name in info["shards"] + ["validation.jsonl", "test.jsonl", "source_tokenizer",
                                  "target_tokenizer"]:
        assert os.path.exists(os.path.join(prepared, name)), name
    assert not [name for name in os.listdir(os.path.dirname(prepared)) if name.endswith(".tmp")]


def splits_and_task(path, **overrides):
    task = get_task(resolve_config({**TINY, "data.path": path, **overrides}))
    splits, _ = task.load_splits()
    from tfbig import config as config_lib

    config, _ = config_lib.with_data_defaults(task.config,
                                              task.data_defaults(splits["train"]))
    task = get_task(config)
    task.learn_assets(splits["train"])
    task.resolve_lengths(splits["train"])
    return task, splits


def batches(dataset, count):
    return [[part.numpy() for part in (*inputs, targets)]
            for (inputs, targets) in dataset.take(count)]


@pytest.mark.parametrize("overrides", [{}, {"train.batch_tokens": 128}],
                         ids=["fixed-batches", "token-batches"])
def test_same_vocabulary_splits_config_and_batches_as_the_raw_file(dates_file, prepared,
                                                                   overrides):
    raw_task, raw = splits_and_task(dates_file, **overrides)
    task, splits = splits_and_task(prepared, **overrides)
    assert task.source_tokenizer.vocabulary == raw_task.source_tokenizer.vocabulary
    assert task.target_tokenizer.vocabulary == raw_task.target_tokenizer.vocabulary
    assert splits["validation"] == raw["validation"] and splits["test"] == raw["test"]
    assert len(splits["train"]) == len(raw["train"])
    assert task.config.data == raw_task.config.data.__class__(
        **{**raw_task.config.data.__dict__, "path": prepared})
    assert task.train_batches(splits["train"]) == raw_task.train_batches(raw["train"])
    for ours, theirs in zip(batches(task.dataset(splits["train"], training=True), 6),
                            batches(raw_task.dataset(raw["train"], training=True), 6)):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_a_contradicting_data_field_is_an_error_naming_it(prepared):
    with pytest.raises(TfbigError, match=r"data\.vocab_size=100 contradicts --data"):
        get_task(resolve_config({**TINY, "data.path": prepared,
                                 "data.vocab_size": 100})).load_splits()


@pytest.mark.slow
def test_training_from_the_prepared_folder_gives_the_raw_files_metrics(dates_file, prepared,
                                                                       tmp_path):
    from tfbig.runs.fit import train

    summaries = [train(resolve_config({**TINY, "data.path": path}), str(tmp_path / name),
                       verbose=0)
                 for name, path in (("raw", dates_file), ("prepared", prepared))]
    for split in ("validation", "test"):
        assert summaries[0][split] == summaries[1][split]
    histories = [(tmp_path / name / "history.csv").read_text().splitlines()
                 for name in ("raw", "prepared")]
    columns = histories[0][0].split(",")
    keep = [i for i, name in enumerate(columns) if "per_second" not in name]
    assert [[row.split(",")[i] for i in keep] for row in histories[0]] == [
        [row.split(",")[i] for i in keep] for row in histories[1]]


def test_help_is_fast_and_imports_no_tensorflow():
    code = ("import sys; from tfbig.prepare import build_parser; build_parser().format_help()"
            "; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    result = tfbig("tfbig.prepare", "--help")
    assert result.returncode == 0 and "usage: python -m tfbig.prepare" in result.stdout
    assert "--output" in result.stdout and "--verbose" in result.stdout


def test_missing_data_is_one_line(tmp_path):
    assert_one_line_error(tfbig("tfbig.prepare", "--data", str(tmp_path / "absent.tsv"),
                                "--output", str(tmp_path / "out")), "absent.tsv", "no such file")
    assert not os.path.exists(tmp_path / "out")


def test_a_non_empty_output_is_refused(dates_file, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    assert_one_line_error(tfbig("tfbig.prepare", "--data", dates_file, "--output",
                                str(tmp_path / "out")), "not empty", "--overwrite")
    assert_one_line_error(tfbig("tfbig.prepare", "--data", dates_file, "--output",
                                str(tmp_path / "out"), "--overwrite"),
                          "not a tfbig.prepare output")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_a_task_it_does_not_support_is_one_line(tmp_path):
    assert_one_line_error(tfbig("tfbig.prepare", "--task", "image", "--data", "x",
                                "--output", str(tmp_path / "out")), "image",
                          "translate, classify, lm, mlm")


def test_prepare_needs_data_and_output():
    assert_one_line_error(tfbig("tfbig.prepare", "--output", "somewhere"), "--data")


def test_a_streamed_corpus_prepares_the_same_examples(dates_file, prepared, tmp_path):
    """A ``.gz`` corpus is streamed (``tfbig.tasks.streaming``): the same split, vocabulary
    and held-out files, and the same training ids in the same shards."""
    import gzip

    import tensorflow as tf

    from tfbig.runs.prepare import prepare

    corpus = tmp_path / "dates.tsv.gz"
    with open(dates_file, "rb") as f:
        corpus.write_bytes(gzip.compress(f.read()))
    folder = str(tmp_path / "streamed")
    info = prepare(resolve_config({**TINY, "data.path": str(corpus)}), folder)
    assert info["streamed"] is True
    for name in ("validation.jsonl", "test.jsonl", "source_tokenizer/vocab.txt",
                 "target_tokenizer/vocab.txt", *info["shards"]):
        with open(os.path.join(folder, name), "rb") as ours, \
                open(os.path.join(prepared, name), "rb") as theirs:
            assert ours.read() == theirs.read(), name
    assert sum(1 for _ in tf.data.TFRecordDataset(
        [os.path.join(folder, name) for name in info["shards"]])) == info["counts"]["train"]


def test_text_of_the_prepared_training_split_is_a_clear_error(prepared):
    task, splits = splits_and_task(prepared)
    for use in (list, lambda train: train[:1]):
        with pytest.raises(TfbigError, match="holds token ids, not text"):
            use(splits["train"])


def test_a_run_with_other_tokenizers_cannot_read_the_ids(prepared):
    """Ids mean nothing under another vocabulary (e.g. a run fine-tuned from elsewhere)."""
    from tfbig.data.tokenizers import learn_tokenizer

    task, splits = splits_and_task(prepared)
    task.source_tokenizer = learn_tokenizer("char", ["only these letters"])
    with pytest.raises(TfbigError, match="source tokenizer is not this run's"):
        task.dataset(splits["train"], training=True)


def test_overwrite_replaces_an_earlier_prepared_folder(dates_file, prepared, tmp_path):
    import shutil

    from tfbig.runs.prepare import prepare

    folder = str(tmp_path / "again")
    shutil.copytree(prepared, folder)
    with open(os.path.join(folder, "prepared.json"), encoding="utf-8") as f:
        before = json.load(f)
    config = resolve_config({**TINY, "data.path": dates_file})
    with pytest.raises(TfbigError, match="not empty"):
        prepare(config, folder)
    assert prepare(config, folder, overwrite=True) == before
    assert sorted(os.listdir(tmp_path)) == ["again"]  # no temporary folder left
