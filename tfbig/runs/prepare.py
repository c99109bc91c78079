"""Tokenise a corpus once (``python -m tfbig.prepare``): TFRecord shards + tokenizer assets.

    config → task → read and split the data as ``train`` would (in memory or streamed) →
    data defaults → tokenizers learnt from the training split → lengths → write, into a
    temporary folder beside ``--output``: the assets, ``train-*-of-*.tfrecord`` shards of
    token ids (the task's ``prepared_ids``), ``validation.jsonl``/``test.jsonl`` (text),
    ``prepared.json`` → rename it to ``--output`` (never a half-written folder)

``train --data DIR`` then skips reading text and tokenising (``tfbig.tasks.prepared`` has
the layout and how a task reads it). Example ``i`` goes to shard ``i mod NN`` (NN =
``max(MIN_SHARDS, ⌈examples / SHARD_EXAMPLES⌉)``, enough files for multi-worker sharding by
file); reading the shards round-robin gives the corpus's order back, so the prepared run's
batches are the raw run's.
"""

import math
import os
import shutil
import sys
import tempfile

from tfbig import config as config_lib
from tfbig import optional, run_folder
from tfbig.config_fields import DataConfig
from tfbig.data.jsonl import write_jsonl
from tfbig.errors import TfbigError

MIN_SHARDS = 8
SHARD_EXAMPLES = 100_000  # training examples per shard, about (more shards past 800k)


def log(message):
    print(message, file=sys.stderr, flush=True)


def check_output(output, overwrite):
    """``--output``: absent or empty; with ``overwrite`` also an earlier prepared folder
    (nothing else is ever deleted)."""
    from tfbig.tasks.prepared import is_prepared

    if not os.path.exists(output):
        return
    if not os.path.isdir(output):
        raise TfbigError(f"--output {output}: is a file, expected a folder to create")
    if not os.listdir(output):
        return
    if not overwrite:
        raise TfbigError(f"--output {output}: is not empty; choose another folder or pass "
                         f"--overwrite to replace an earlier tfbig.prepare output")
    if not is_prepared(output):
        raise TfbigError(f"--output {output}: is not empty and not a tfbig.prepare output; "
                         f"--overwrite replaces only those: choose another folder")


def shard_count(examples):
    return max(MIN_SHARDS, math.ceil(examples / SHARD_EXAMPLES))


def write_shards(task, train, folder, count):
    """Tokenise ``train`` (a list or a stream) into ``count`` shards, the task's
    ``prepared_ids`` as its ``prepared_features``; returns ``(examples, {padded length:
    examples}, shard names)``."""
    from tfbig.data.prepared_shards import ShardWriter
    from tfbig.data.stream_bad_lines import stream_errors
    from tfbig.tasks.prepared import shard_names

    names = shard_names(count)
    lengths = {}
    paths = [os.path.join(folder, name) for name in names]
    with ShardWriter(paths, task.prepared_features) as writer, stream_errors():
        for example in task.prepared_ids(train).as_numpy_iterator():
            writer.write(example)
            length = task.prepared_length(example)
            lengths[length] = lengths.get(length, 0) + 1
            if writer.written % SHARD_EXAMPLES == 0:
                log(f"prepare: {writer.written:,} training examples written")
    return writer.written, lengths, names


def prepare(config, output, *, overwrite=False):
    """Prepare ``config``'s data into ``output``; returns the ``prepared.json`` dict."""
    from tfbig.tasks import get_task
    from tfbig.tasks import task_class
    from tfbig.tasks.prepared import (FORMAT, HELD_OUT, PREPARED_FILE, PreparedTrain,
                                      preparable_tasks)

    if not task_class(config.task).preparable:
        raise TfbigError(f"--task {config.task}: tfbig.prepare supports "
                         f"{', '.join(preparable_tasks())} only; train the {config.task} task "
                         f"from its raw data")
    check_output(output, overwrite)
    from tfbig.runs.fit import _file_defaults  # --val-data: all of --data trains, as in train

    config, chosen_for_files = _file_defaults(config)
    task = get_task(config)
    config = task.config
    if config.data.tokenizer == "sentencepiece":
        optional.check(["sentencepiece"])
    splits, report = task.load_splits()  # a missing file fails before TensorFlow loads
    task.check_augment()
    if isinstance(splits["train"], PreparedTrain):
        raise TfbigError(f"--data {config.data.path}: is already a tfbig.prepare output")
    config, chosen = config_lib.with_data_defaults(config, task.data_defaults(splits["train"]))
    for key, value, reason in chosen_for_files + chosen:
        log(f"default from the data: {key}={value} ({reason})")
    task = get_task(config)
    task.learn_assets(splits["train"])
    config = task.resolve_lengths(splits["train"])

    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(output))}.",
                                 suffix=".tmp", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o777 & ~umask)  # mkdtemp's is 0o700; a folder as makedirs makes
    try:
        task.save_assets(temporary)
        train = splits["train"]
        count = shard_count(getattr(train, "estimated_examples", len(train)))
        log(f"prepare: tokenising the training split into {count} shards")
        written, lengths, names = write_shards(task, train, temporary, count)
        if report.skipped:
            log(str(report))
        if not written:
            raise TfbigError(f"--data {config.data.path}: no training examples")
        keys = [key for key, _ in task.jsonl_fields(DataConfig())]  # read back with them
        for split, name in HELD_OUT.items():
            write_jsonl(os.path.join(temporary, name), splits[split], keys)
        info = {
            "format": FORMAT,
            "task": config.task,
            "source": task.data_path(),
            "data": config.to_dict()["data"],
            "data_defaults": [list(choice) for choice in chosen],
            "counts": {"train": written, **{split: len(splits[split]) for split in HELD_OUT}},
            "features": [list(feature) for feature in task.prepared_features],
            "shards": names,
            "lengths": {str(length): n for length, n in sorted(lengths.items())},
            "seed": config.train.seed,
            # read as a stream (tfbig.tasks.streaming): its training pipeline's shuffle
            # buffer is data.shuffle_buffer, not the split's size
            "streamed": hasattr(train, "open_stream"),
        }
        run_folder.write_json(os.path.join(temporary, PREPARED_FILE), info)
        if os.path.exists(output):  # empty, or an earlier prepared folder (check_output):
            replaced = f"{temporary}.old"  # swapped out, so output is always a whole folder
            os.rename(output, replaced)
            os.rename(temporary, output)
            shutil.rmtree(replaced)
        else:
            os.rename(temporary, output)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return info
