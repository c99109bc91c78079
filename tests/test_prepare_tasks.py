"""``python -m tfbig.prepare`` for classify, lm and mlm: each task's prepared folder trains
exactly as its raw file does (the same split, batches, masks and so metrics; same seed),
and holds the task's own features and assets (tests/test_prepare.py: translate, the CLI)."""

import json
import os

import numpy as np
import pytest

from tfbig.tasks import resolve_config
from tfbig.tasks.data_files import SAMPLE_DIR

TINY = {"model.num_layers": 1, "model.d_model": 16, "model.num_heads": 2, "model.dff": 32,
        "train.batch_size": 8, "train.epochs": 1, "train.steps_per_epoch": 2,
        "train.jit_compile": False, "train.epoch_metrics_examples": 0, "train.seed": 3,
        "data.tokenizer": "word", "data.validation_split": 0.1, "data.test_split": 0.1}
TASKS = {  # task → (shipped sample, lines kept, features, assets)
    "classify": ("reviews.tsv", 160, [["token_ids", "ids"], ["label", "id"]],
                 ["tokenizer", "labels.json"]),
    "lm": ("corpus.txt", 120, [["token_ids", "ids"], ["next_ids", "ids"]],
           ["tokenizer", "unigram_counts.json"]),
    "mlm": ("corpus.txt", 160, [["token_ids", "ids"]], ["tokenizer"]),
}


def _raw_file(folder, task):
    sample, count, _, _ = TASKS[task]
    path = folder / sample
    with open(os.path.join(SAMPLE_DIR, sample), encoding="utf-8") as f:
        path.write_text("".join(next(f) for _ in range(count)), encoding="utf-8")
    return str(path)


def _history(run_dir):
    """history.csv without its timing columns (they differ run to run)."""
    rows = [line.split(",") for line in (run_dir / "history.csv").read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if "per_second" not in name]
    return [[row[i] for i in keep] for row in rows]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classify", "lm"])
def test_a_prepared_folder_trains_to_the_raw_files_metrics(task, tmp_path):
    from tfbig.runs.fit import train
    from tfbig.runs.prepare import prepare

    raw = _raw_file(tmp_path, task)
    folder = str(tmp_path / "prep")
    info = prepare(resolve_config({**TINY, "task": task, "data.path": raw}), folder)
    _, count, features, assets = TASKS[task]
    assert info["task"] == task and info["features"] == features
    for name in assets + info["shards"] + ["validation.jsonl", "test.jsonl"]:
        assert os.path.exists(os.path.join(folder, name)), name
    if task != "lm":  # lm's examples are its packed windows, fewer than its lines
        assert sum(info["counts"].values()) == count

    model = {"classify": {"model.name": "cnn"}}.get(task, {})  # the cheapest to build
    summaries = {name: train(resolve_config({**TINY, "task": task, "data.path": path, **model}),
                             str(tmp_path / name), verbose=0)
                 for name, path in (("raw", raw), ("from_prep", folder))}
    for split in ("validation", "test"):
        assert summaries["raw"][split] == summaries["from_prep"][split], split
    assert _history(tmp_path / "raw") == _history(tmp_path / "from_prep")
    with open(tmp_path / "from_prep" / "config.json", encoding="utf-8") as f:
        assert json.load(f)["data"]["path"] == folder


@pytest.mark.parametrize("task, overrides", [
    ("classify", {"data.augment": {"delete_rate": 0.2}}), ("mlm", {})], ids=["classify", "mlm"])
def test_prepared_batches_are_the_raw_batches(task, overrides, tmp_path):
    """The id half of each pipeline shuffles, augments (classify) and masks (mlm) as the
    raw one does, with the same seeds per example; and a prepared folder refuses another
    run's tokenizer."""
    from tfbig import config as config_lib
    from tfbig.data.tokenizers import learn_tokenizer
    from tfbig.errors import TfbigError
    from tfbig.runs.prepare import prepare
    from tfbig.tasks import get_task

    raw = _raw_file(tmp_path, task)
    folder = str(tmp_path / "prep")
    overrides = {**TINY, "task": task, "train.steps_per_epoch": 0, **overrides}
    info = prepare(resolve_config({**overrides, "data.path": raw}), folder)
    assert info["features"] == TASKS[task][2]

    def ready(path):
        task = get_task(resolve_config({**overrides, "data.path": path}))
        splits, _ = task.load_splits()
        config, _ = config_lib.with_data_defaults(task.config,
                                                  task.data_defaults(splits["train"]))
        task = get_task(config)
        task.learn_assets(splits["train"])
        task.resolve_lengths(splits["train"])
        return task, splits

    (raw_task, raw_splits), (ours, splits) = ready(raw), ready(folder)
    assert ours.config.data.max_source_length == raw_task.config.data.max_source_length
    assert splits["validation"] == raw_splits["validation"]
    assert splits["test"] == raw_splits["test"] and len(splits["train"]) == len(raw_splits["train"])
    batches = [list(task_.dataset(train, training=True)) for task_, train in
               ((ours, splits["train"]), (raw_task, raw_splits["train"]))]
    assert len(batches[0]) == len(batches[1]) == len(splits["train"]) // 8  # a whole epoch
    for a, b in zip(*batches):
        for x, y in zip(a[0].values(), b[0].values()):  # token_ids, padding_mask
            np.testing.assert_array_equal(x.numpy(), y.numpy())
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())  # labels
    ours.tokenizer = learn_tokenizer("word", ["other words entirely"])
    with pytest.raises(TfbigError, match="its tokenizer is not this run's"):
        ours.dataset(splits["train"], training=True)
