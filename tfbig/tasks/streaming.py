"""A text task's corpus larger than memory: streamed splits instead of lists.

A task reads ``--data`` whole into lists (``Task.load_splits``) when it is one plain file of
at most ``data.stream_threshold_mb``; anything else — a folder of shards, a glob, a ``.gz``
file, a bigger file, or ``stream_threshold_mb=0`` — is *streamed* (:func:`should_stream`):

================  ===========================================================================
split             what the task gets
================  ===========================================================================
train             a :class:`TrainStream`: a ``list`` holding a bounded sample of the training
                  split (the first ``data.stream_sample_examples`` training examples of the
                  interleaved shards: vocabulary, data defaults and lengths are learnt from
                  it), whose :meth:`~TrainStream.dataset` streams the whole training split
                  (the task's ``stream_reader`` → ``split_filter(..., "train")``) into the pipeline
validation, test  lists: the first ``data.stream_eval_examples`` examples of each held-out
                  split, files read one after the other (``--val-data``: its first ones)
================  ===========================================================================

The splits are ``tfbig.data.splits``' hash assignment (``tfbig.data.hash_split`` in the
graph), so a corpus that crosses the threshold keeps its split; on a small corpus (every
held-out example within the bound) the held-out lists and the sample equal the in-memory
lists, in the same order for a single file (``tests/tasks/test_streaming.py``).

An epoch of a stream is ``train.steps_per_epoch`` steps; 0 → :meth:`TrainStream.steps`
estimates it: training examples ≈ the corpus's bytes (uncompressed: a ``.gz`` file's size
field) ÷ the sample's mean bytes per line × the train fraction, then the task's batches of
the sample scaled to that count.

Resuming: a streamed training set repeats, reshuffled from ``train.seed`` each pass, so the
batches are the same on every run; a resumed run skips the ``epochs done ×
steps_per_epoch`` batches its finished epochs consumed (:func:`skip_finished_epochs`). The
skipped batches are read and tokenised again (not trained on): a TF iterator checkpoint
would avoid that, but cannot hold the bad-line ``py_function``'s Python state and would
need Keras' fit loop to save the iterator.
"""

import copy
import json
import os
import struct
import sys

from tfbig.data.jsonl import is_jsonl
from tfbig.data.stream_files import data_files, is_gzip, is_small, shard_by_file
from tfbig.errors import TfbigError

READ_BATCH = 1024  # examples per step of the bounded reads
MAX_CYCLE = 16  # shards read at once by a training stream (fixed: the same order everywhere)


def should_stream(task, path, threshold_mb):
    """Whether ``task`` streams ``path`` (see the module docstring)."""
    if task.stream_reader is None:
        return False
    if not os.path.exists(path) and not any(character in path for character in "*?["):
        return False  # the task's reader says what it expected there
    files = data_files(path)
    # lm/mlm read a folder of .txt files in memory; the TSV and JSONL readers read one file.
    one_source = os.path.isfile(path) or (os.path.isdir(path) and task.text_folder
                                          and not any(is_jsonl(file) for file in files))
    return not (one_source and is_small(files, threshold_mb * 2**20))


def task_stream(task, files, **options):
    """The task's stream of ``files``: JSON Lines by its named fields
    (``tfbig.data.stream.jsonl_stream``) when they are ``.jsonl``/``.jsonl.gz``, else its
    ``stream_reader`` (TSV, CSV, text)."""
    jsonl = [is_jsonl(file) for file in files]
    if not any(jsonl):
        return task.stream_reader(files, **options)
    if not task.json_fields:
        raise TfbigError(f"{files[0]}: the {task.name} task reads no JSON Lines")
    if not all(jsonl):
        raise TfbigError(f"{files[jsonl.index(False)]} is not .jsonl but "
                         f"{files[jsonl.index(True)]} is: expected the files of one corpus "
                         f"to be all JSON Lines or all of another format")
    from tfbig.data.stream import jsonl_stream  # TensorFlow loads only here

    return jsonl_stream(files, task.jsonl_fields(), **options)


def uncompressed_bytes(file):
    """The text bytes of ``file``: its size, or a ``.gz`` file's size field (last member,
    modulo 4 GiB: an estimate)."""
    size = os.path.getsize(file)
    if not is_gzip(file) or size < 18:
        return size
    with open(file, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return max(struct.unpack("<I", f.read(4))[0], size)


def _line_bytes(example):
    fields = example if isinstance(example, tuple) else (example,)
    return sum(len(field.encode("utf-8")) for field in fields) + len(fields)  # tabs, newline


class TrainStream(list):
    """The training split of a streamed corpus: a list of its bounded sample that can also
    stream all of it.

    Args:
        sample: the first training examples (a list), at most ``sample_size``.
        open_stream: ``() -> tf.data.Dataset`` of every training example.
        files: the corpus's files.
        sample_size: the bound the sample was read with; a shorter sample is the whole split.
        train_fraction: the share of the corpus's examples that train.
    """

    def __init__(self, sample, *, open_stream, files, sample_size, train_fraction):
        super().__init__(sample)
        self.open_stream = open_stream
        self.files = list(files)
        self.complete = len(sample) < sample_size
        text_bytes = sum(uncompressed_bytes(file) for file in self.files)
        mean = sum(_line_bytes(example) for example in sample) / max(len(sample), 1)
        self.estimated_examples = (len(sample) if self.complete else
                                   max(len(sample), round(text_bytes / mean * train_fraction)))
        self.reason = (f"all {len(sample):,} training examples read" if self.complete else
                       f"≈{self.estimated_examples:,} training examples: "
                       f"{text_bytes / 2**20:,.0f} MB of text, {mean:.0f} bytes per line")

    def dataset(self, **options):
        """Every training example, streamed (a ``tf.data.Dataset``); ``options``: the
        stream's, e.g. ``labels=`` (classify: another label is a bad line)."""
        return self.open_stream(**options)

    def for_input_pipeline(self, context):
        """This input pipeline's share of the split (multi-worker; ``context``: a
        ``tf.distribute.InputContext``): its own files when every pipeline gets one, else
        every ``num_input_pipelines``-th example of all of them (``shard_by_file``)."""
        pipelines, index = context.num_input_pipelines, context.input_pipeline_id
        if pipelines <= 1:
            return self
        share, whole = copy.copy(self), self.open_stream
        if shard_by_file(len(self.files), pipelines):
            share.open_stream = lambda **options: whole(num_shards=pipelines,
                                                        shard_index=index, **options)
        else:
            share.open_stream = lambda **options: whole(**options).shard(pipelines, index)
        return share

    def describe(self):
        """``≈1,234,000 train (streamed from 8 files)`` for the run's data line."""
        return (f"{'' if self.complete else '≈'}{self.estimated_examples:,} train "
                f"(streamed from {len(self.files)} file{'s' * (len(self.files) > 1)})")

    def steps(self, sample_batches):
        """Steps of one epoch, from the task's batches in the sample: scaled to the split."""
        return max(1, round(sample_batches * self.estimated_examples / max(len(self), 1)))


def _stream_options(data, report):
    return dict(max_bad_lines=None if data.skip_bad_lines else data.max_bad_lines,
                report=report)


def _key(element):
    """``splits.default_key`` of a batch: the texts, or the first field's."""
    return element[0] if isinstance(element, tuple) else element


def _rows(batch):
    """A NumPy batch of a stream → its examples as Python values."""
    from tfbig.data.stream_bad_lines import to_python

    if isinstance(batch, tuple):
        return list(zip(*([to_python(value) for value in column] for column in batch)))
    return [to_python(value) for value in batch]


def read_held_out(task, files, data, report, *, validation, test, labels=None):
    """``{"validation": [...], "test": [...]}``: the first ``data.stream_eval_examples`` of
    each held-out split, the files read one after the other (their in-memory order)."""
    from tfbig.data.hash_split import split_ids
    from tfbig.data.stream_bad_lines import stream_errors

    options = {"labels": labels} if labels is not None else {}
    stream = task_stream(task, files, cycle_length=1, **options,
                         **_stream_options(data, report))
    batches = stream.batch(READ_BATCH).map(
        lambda *batch: (batch if len(batch) > 1 else batch[0],
                        split_ids(_key(batch if len(batch) > 1 else batch[0]),
                                  validation=validation, test=test)))
    wanted, held = data.stream_eval_examples, {"validation": [], "test": []}
    full = {"validation": validation == 0, "test": test == 0}
    with stream_errors():
        for batch, ids in batches.as_numpy_iterator():
            for example, split in zip(_rows(batch), ids):
                name = ("train", "validation", "test")[split]
                if name != "train" and len(held[name]) < wanted:
                    held[name].append(example)
                    full[name] = full[name] or len(held[name]) == wanted
            if all(full.values()):
                break
    return held


def read_first(task, files, data, report, labels=None):
    """The first ``data.stream_eval_examples`` examples of ``files`` (``--val-data``)."""
    from tfbig.data.stream_bad_lines import iterate

    options = {"labels": labels} if labels is not None else {}
    stream = task_stream(task, files, cycle_length=1, **options,
                         **_stream_options(data, report))
    return list(iterate(stream.take(data.stream_eval_examples)))


def train_stream(task, files, data, report, *, validation, test, seed, labels=None):
    """The :class:`TrainStream` of ``files``: its sample read now (progress on stderr)."""
    from tfbig.data.hash_split import split_filter
    from tfbig.data.stream_sample import sample_texts

    cycle = min(len(files), MAX_CYCLE)

    def open_stream(labels=labels, num_shards=1, shard_index=0):
        options = {"labels": labels} if labels is not None else {}
        stream = task_stream(task, files, cycle_length=cycle, num_shards=num_shards,
                             shard_index=shard_index, **options,
                             **_stream_options(data, report))
        return split_filter(stream, None, "train", validation=validation, test=test)

    size = data.stream_sample_examples
    print(f"streaming {len(files)} file{'s' * (len(files) > 1)}: reading up to {size:,} "
          f"training examples for the vocabulary and lengths", file=sys.stderr, flush=True)
    sample = sample_texts(open_stream().take(size), size, seed, progress=max(size // 10, 1))
    if not sample:
        raise TfbigError(f"{files[0]}: no training examples in {len(files)} file(s) after "
                         f"holding out validation and test splits")
    return TrainStream(sample, open_stream=open_stream, files=files, sample_size=size,
                       train_fraction=1 - validation - test)


def load_streamed_splits(task, path, report, labels=None):
    """``{"train": TrainStream, "validation": [...], "test": [...]}`` of a streamed ``path``."""
    data = task.config.data
    files = data_files(path)
    validation = 0.0 if data.val_path else data.validation_split
    held = read_held_out(task, files, data, report, validation=validation,
                         test=data.test_split, labels=labels)
    if data.val_path:
        held["validation"] = (read_first(task, data_files(data.val_path), data, report,
                                         labels)
                              if should_stream(task, data.val_path, data.stream_threshold_mb)
                              else task.read_examples(data.val_path,
                                                      skip_bad_lines=data.skip_bad_lines,
                                                      report=report))
    train = train_stream(task, files, data, report, validation=validation,
                         test=data.test_split, seed=task.config.train.seed, labels=labels)
    return {"train": train, **held}


def input_share(train, context):
    """The training split as one input pipeline of a multi-worker run reads it: a stream's
    or a prepared folder's share (``for_input_pipeline``: by file when there are enough
    files), or ``train`` itself (a list: the loop shards its batches)."""
    share = getattr(train, "for_input_pipeline", None)
    return train if share is None else share(context)


def finished_epochs(run_dir):
    """Epochs an interrupted run finished: Keras' ``BackupAndRestore`` metadata."""
    from tfbig import run_folder

    path = os.path.join(run_dir, run_folder.BACKUP, "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8") as f:
        return int(json.load(f).get("epoch", 0))


def skip_finished_epochs(dataset, train, run_dir, steps_per_epoch):
    """A resumed streamed run's training batches: those its finished epochs took skipped,
    so no finished epoch's data is trained on twice. In-memory splits: ``dataset`` as is."""
    done = finished_epochs(run_dir) if isinstance(train, TrainStream) else 0
    if not done:
        return dataset
    print(f"resuming a stream: skipping the {done * steps_per_epoch:,} batches of "
          f"{done} finished epoch{'s' * (done > 1)}", file=sys.stderr, flush=True)
    return dataset.skip(done * steps_per_epoch)


__all__ = ["should_stream", "task_stream", "TrainStream", "load_streamed_splits",
           "input_share", "skip_finished_epochs"]
