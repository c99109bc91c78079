"""``--data file.jsonl`` for the text tasks: the same splits as the task's own format, in
memory and streamed (``.jsonl.gz`` shards), field names from the config, bad lines named."""

import gzip
import json

import numpy as np
import pytest

from tfbig.errors import TfbigError
from tfbig.tasks import get_task, resolve_config
from tfbig.tasks.streaming import TrainStream, should_stream

KEYS = {"translate": ("source", "target"), "classify": ("text", "label"), "lm": ("text",),
        "mlm": ("text",)}


def _examples(task):
    from tfbig.data.samples import date_pairs

    pairs = date_pairs(200, np.random.default_rng(2))
    if task == "translate":
        return pairs
    if task == "classify":
        return [(source, ("even", "odd")[len(source) % 2]) for source, _ in pairs]
    return [source for source, _ in pairs]


def _write(tmp_path, task, keys=None):
    """The examples as the task's own format (one file), one .jsonl file and three
    .jsonl.gz shards."""
    examples = _examples(task)
    rows = [example if isinstance(example, tuple) else (example,) for example in examples]
    own = tmp_path / ("own.txt" if task in ("lm", "mlm") else "own.tsv")
    own.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    lines = [json.dumps(dict(zip(keys or KEYS[task], row))) + "\n" for row in rows]
    (tmp_path / "all.jsonl").write_text("".join(lines), encoding="utf-8")
    (tmp_path / "shards").mkdir()
    for i in range(3):
        with gzip.open(tmp_path / "shards" / f"part-{i}.jsonl.gz", "wt", encoding="utf-8") as f:
            f.write("".join(lines[i * 67:(i + 1) * 67]))
    return str(own), str(tmp_path / "all.jsonl"), str(tmp_path / "shards")


def _splits(path, task, **overrides):
    return get_task(resolve_config({"task": task, "data.path": path, **overrides})).load_splits()


@pytest.mark.parametrize("task", list(KEYS))
def test_jsonl_in_memory_and_streamed_give_the_own_formats_splits(tmp_path, task):
    own, single, shards = _write(tmp_path, task)
    expected, _ = _splits(own, task)
    in_memory, _ = _splits(single, task)
    assert in_memory == expected
    task_object = get_task(resolve_config({"task": task, "data.path": shards}))
    assert should_stream(task_object, shards, 256)  # a folder of shards, lm's too
    streamed, _ = _splits(shards, task)
    assert isinstance(streamed["train"], TrainStream)
    for split in ("validation", "test"):
        assert streamed[split] == expected[split], split
    assert sorted(streamed["train"]) == sorted(expected["train"])


def test_field_names_come_from_the_config(tmp_path):
    own, single, shards = _write(tmp_path, "classify", keys=("review", "stars"))
    names = {"data.text_field": "review", "data.label_field": "stars"}
    expected, _ = _splits(own, "classify")
    assert _splits(single, "classify", **names)[0] == expected
    assert _splits(shards, "classify", **names)[0]["test"] == expected["test"]
    with pytest.raises(TfbigError, match=r'all\.jsonl:1: no "text" field \(expected a JSON '
                                         r'object with "text" and "label" fields\)'):
        _splits(single, "classify")


def test_a_bad_shard_line_is_named_and_max_bad_lines_skips_it(tmp_path):
    _, _, shards = _write(tmp_path, "translate")
    with gzip.open(f"{shards}/part-2.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = f.readlines()
    lines[4] = '{"source": "a source without a target"}\n'
    with gzip.open(f"{shards}/part-2.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("".join(lines))
    with pytest.raises(TfbigError, match=r'part-2\.jsonl\.gz:5: no "target" field'):
        _splits(shards, "translate")
    splits, report = _splits(shards, "translate", **{"data.max_bad_lines": 1})
    assert report.skipped >= 1 and 'part-2.jsonl.gz:5: no "target" field' in str(report)
    assert len(splits["train"]) > 120


def test_jsonl_and_tsv_shards_do_not_mix(tmp_path):
    _, _, shards = _write(tmp_path, "translate")
    (tmp_path / "shards" / "part-3.tsv").write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(TfbigError, match=r"part-3\.tsv is not \.jsonl but .*part-0\.jsonl\.gz "
                                         r"is"):
        _splits(shards, "translate")
