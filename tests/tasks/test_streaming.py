"""Streamed text tasks (tfbig.tasks.streaming): the same splits and vocabulary as in memory,
bad lines named by shard and line, a run on shards, and resuming a killed streamed run."""

import gzip
import os

import keras
import numpy as np
import pytest

from tfbig import run_folder
from tfbig.errors import TfbigError
from tfbig.tasks import get_task, resolve_config
from tfbig.tasks.streaming import TrainStream, should_stream

TINY = {"model.preset": "tiny", "train.batch_size": 16, "train.epochs": 2,
        "train.jit_compile": False, "train.warmup_steps": 2, "train.epoch_metrics_examples": 0}


def _write_corpus(folder, lines, shards=3):
    """``lines`` as one file ``all.tsv`` and as ``shards`` gzip shards in ``shards/``."""
    os.makedirs(folder / "shards", exist_ok=True)
    (folder / "all.tsv").write_text("".join(lines), encoding="utf-8")
    size = -(-len(lines) // shards)
    for i in range(shards):
        with gzip.open(folder / "shards" / f"part-{i}.tsv.gz", "wt", encoding="utf-8") as f:
            f.write("".join(lines[i * size:(i + 1) * size]))
    return str(folder / "all.tsv"), str(folder / "shards")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from tfbig.data.samples import date_pairs

    lines = [f"{s}\t{t}\n" for s, t in date_pairs(300, np.random.default_rng(1))]
    return _write_corpus(tmp_path_factory.mktemp("corpus"), lines)


def _task(path, **overrides):
    return get_task(resolve_config({**TINY, "data.path": path, **overrides}))


def test_small_single_files_stay_in_memory_and_the_rest_streams(corpus, tmp_path):
    single, shards = corpus
    assert not should_stream(_task(single), single, 256)
    assert should_stream(_task(single), single, 0)  # 0: always stream
    assert should_stream(_task(shards), shards, 256)  # a folder of shards
    assert should_stream(_task(shards), os.path.join(shards, "part-0.tsv.gz"), 256)  # gzip
    assert should_stream(_task(shards), os.path.join(shards, "part-*.tsv.gz"), 256)  # a glob
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("one line\n", encoding="utf-8")
    lm = _task(str(texts), task="lm")
    assert not should_stream(lm, str(texts), 256)  # lm reads a small .txt folder in memory


@pytest.mark.parametrize("task", ["translate", "classify", "lm"])
def test_streamed_and_in_memory_give_the_same_splits_and_vocabulary(corpus, tmp_path, task):
    single, shards = corpus
    if task != "translate":  # classify: text<TAB>label (length odd or even); lm: the sources
        from tfbig.data.samples import date_pairs

        pairs = date_pairs(300, np.random.default_rng(1))
        lines = ([f"{s}\t{('even', 'odd')[len(s) % 2]}\n" for s, _ in pairs] if task == "classify"
                 else [f"{s}\n" for s, _ in pairs])
        single, shards = _write_corpus(tmp_path, lines)
    memory = _task(single, task=task)
    streamed = _task(shards, task=task, **{"data.stream_threshold_mb": 0})
    in_memory, _ = memory.load_splits()
    from_stream, _ = streamed.load_splits()
    assert isinstance(from_stream["train"], TrainStream)
    for split in ("validation", "test"):  # shards read in order: the same lists
        assert from_stream[split] == in_memory[split], split
    assert sorted(from_stream["train"]) == sorted(in_memory["train"])  # the whole sample
    memory.learn_assets(in_memory["train"])
    streamed.learn_assets(from_stream["train"])
    tokenizers = [name for name in ("source_tokenizer", "target_tokenizer", "tokenizer")
                  if hasattr(memory, name)]
    for name in tokenizers:
        assert getattr(streamed, name).vocabulary == getattr(memory, name).vocabulary, name


def test_a_bad_line_in_shard_3_is_named_by_file_and_line(corpus, tmp_path):
    _, shards = corpus
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        with gzip.open(os.path.join(shards, f"part-{i}.tsv.gz"), "rt", encoding="utf-8") as f:
            lines = f.readlines()
        if i == 2:
            lines[6] = "a source without a target\n"
        with gzip.open(bad / f"part-{i}.tsv.gz", "wt", encoding="utf-8") as f:
            f.write("".join(lines))
    with pytest.raises(TfbigError, match=r"part-2\.tsv\.gz:7: "):
        _task(str(bad)).load_splits()
    # --max-bad-lines 1: skipped and counted, the run goes on.
    splits, report = _task(str(bad), **{"data.max_bad_lines": 1}).load_splits()
    assert report.skipped >= 1 and "part-2.tsv.gz:7" in str(report)
    assert len(splits["train"]) > 200


def test_steps_per_epoch_is_estimated_from_the_bytes_and_the_sample(corpus, capsys):
    _, shards = corpus
    task = _task(shards, **{"data.stream_sample_examples": 60})
    splits, _ = task.load_splits()
    train = splits["train"]
    assert len(train) == 60 and not train.complete
    # 300 lines, 80% train: about 240 (the bytes per line of 60 dates vary a little).
    assert 200 <= train.estimated_examples <= 290
    task.learn_assets(train)
    task.resolve_lengths(train)
    config = task.resolve_steps(train)
    assert config.train.steps_per_epoch == round(60 // 16 * train.estimated_examples / 60)
    assert "default from the data: train.steps_per_epoch=" in capsys.readouterr().err


def test_a_stream_repeats_the_same_batches_for_a_seed(corpus):
    """What makes resuming by skipping batches exact: the repeated, shuffled stream is the
    same sequence of batches every time it is built."""
    _, shards = corpus
    task = _task(shards, **{"train.steps_per_epoch": 5})
    splits, _ = task.load_splits()
    task.learn_assets(splits["train"])
    task.resolve_lengths(splits["train"])

    def first_sources(count):
        batches = task.dataset(splits["train"], training=True).take(count)
        return [inputs[0].numpy() for inputs, _ in batches]

    first, again = first_sources(40), first_sources(40)  # 40 × 16 > 244: a second pass
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


class StopAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_a_run_on_shards_trains_writes_metrics_and_resumes_after_a_kill(corpus, tmp_path,
                                                                       capsys):
    from tfbig.runs.fit import train

    _, shards = corpus
    # No test split (the checks read the validation metrics): its final metrics, a decode,
    # only cost time. The hashed split then puts 268 of the 300 lines in training.
    config = resolve_config({**TINY, "data.path": shards, "train.epochs": 3,
                             "data.test_split": 0.0})
    run_dir = str(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        train(config, run_dir, callbacks=[StopAtEpoch(2)], verbose=0)
    assert run_folder.run_state(run_dir) == "interrupted"
    saved = run_folder.read_json(os.path.join(run_dir, "config.json"))
    steps = saved["train"]["steps_per_epoch"]
    assert steps == 268 // 16  # every training example read: the exact count
    capsys.readouterr()

    summary = train(config, run_dir, verbose=0)
    err = capsys.readouterr().err
    assert f"skipping the {2 * steps:,} batches of 2 finished epochs" in err
    assert "268 train (streamed from 3 files)" in err
    assert run_folder.run_state(run_dir) == "finished"
    metrics = run_folder.read_json(os.path.join(run_dir, "metrics.json"))
    assert metrics["validation"]["examples"] == summary["validation"]["examples"] > 0
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        assert [line.split(",")[0] for line in f.readlines()[1:]] == ["0", "1", "2"]
