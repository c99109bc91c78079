"""A ``tfbig.prepare`` folder as a task's data: tokenised shards instead of text.

``python -m tfbig.prepare`` (``tfbig.runs.prepare``) writes, into one folder:

==================================  ========================================================
``prepared.json``                   ``FORMAT`` version, task, the resolved data config, the
                                    data defaults chosen from the corpus, counts per split,
                                    the features and shard names, a histogram of padded
                                    lengths, the seed
``train-00000-of-000NN.tfrecord``   the training split's examples as ``tf.train.Example``\\ s
                                    of int64 lists, the task's ``prepared_features``:
                                    translate ``source``, ``target`` (``[START] … [END]``);
                                    classify ``token_ids`` (``[CLS] … [SEP]``), ``label``;
                                    mlm ``token_ids``; lm the packed windows ``token_ids``,
                                    ``next_ids``; example ``i`` in shard ``i mod NN``
``{validation,test}.jsonl``         the held-out examples as text (final metrics), JSON
                                    Lines with the default keys (``text``, ``label``, …)
the task's assets                   ``tokenizer/`` (``source_tokenizer/``,
                                    ``target_tokenizer/``), ``labels.json`` (classify),
                                    ``unigram_counts.json`` (lm)
==================================  ========================================================

``train --data DIR`` on such a folder (:func:`is_prepared`): ``Task.load_splits`` gives a
:class:`PreparedTrain` for "train" and the held-out lists for validation/test; the task loads
the assets instead of learning them, takes the lengths and the data defaults from
``prepared.json`` (``Task.data_defaults``), and its pipeline starts from the ids
(``Task.prepared_examples``, then the second half of its pipeline, e.g.
``tfbig.data.pipeline_text.id_classification_dataset``). A data field set in the command
that contradicts the prepared one is an error naming it (:func:`prepared_choices`).
"""

import copy
import os

from tfbig import run_folder
from tfbig.config_fields import DataConfig
from tfbig.data.jsonl import read_jsonl
from tfbig.data.stream_files import shard_by_file
from tfbig.errors import TfbigError

PREPARED_FILE = "prepared.json"
FORMAT = 2  # 2: any text task; features listed; held-out splits as JSON Lines
# The data fields the shards and assets were made with: the train command must not change
# them (it takes them from prepared.json).
FIXED_FIELDS = ("tokenizer", "vocab_size", "lower_case", "strip_accents",
                "max_source_length", "max_target_length", "validation_split", "test_split")
# The held-out splits as text, JSON Lines with the default keys (data.text_field, …): a text
# may hold a tab or a line break (CSV, JSONL input) that a TSV could not.
HELD_OUT = {"validation": "validation.jsonl", "test": "test.jsonl"}


def is_prepared(path):
    """Whether ``path`` is a ``tfbig.prepare`` output folder."""
    return bool(path) and os.path.isfile(os.path.join(path, PREPARED_FILE))


def shard_names(count):
    """``train-00000-of-00008.tfrecord``, … for ``count`` shards."""
    return [f"train-{index:05d}-of-{count:05d}.tfrecord" for index in range(count)]


class PreparedTrain:
    """The training split of a prepared folder: its size and where its shards are.

    ``len()`` is the number of training examples (``fit`` checks the batch size and
    counts the steps of an epoch with it); the examples themselves are ids, read by the
    task's pipeline from ``files``.
    """

    def __init__(self, folder, info):
        self.folder = folder
        self.info = info
        self.files = [os.path.join(folder, name) for name in info["shards"]]
        self.count = int(info["counts"]["train"])
        self.example_shard = None  # (pipelines, index): read every example, keep a share
        # {padded length: examples}, what a token-budget batch pads each example to
        self.lengths = {int(length): int(n) for length, n in info["lengths"].items()}

    def __len__(self):
        return self.count

    def __iter__(self):
        raise TfbigError(f"--data {self.folder}: a tfbig.prepare folder holds token ids, not "
                         f"text; this use of its training split (e.g. tune --folds) needs "
                         f"the raw corpus")

    def __getitem__(self, index):
        self.__iter__()

    def for_input_pipeline(self, context):
        """This input pipeline's share (multi-worker; ``context``: a
        ``tf.distribute.InputContext``): its own shards when every pipeline gets one, else
        every ``num_input_pipelines``-th example of all of them (``shard_by_file``)."""
        pipelines, index = context.num_input_pipelines, context.input_pipeline_id
        if pipelines <= 1:
            return self
        share = copy.copy(self)
        if shard_by_file(len(self.files), pipelines):
            # Shard j holds examples j, j + F, j + 2F, … of the F shards.
            per_shard = [max(0, -(-(self.count - j) // len(self.files)))
                         for j in range(len(self.files))]
            share.files = self.files[index::pipelines]
            share.count = sum(per_shard[index::pipelines])
        else:
            share.example_shard = (pipelines, index)
        return share

    def buffer_size(self, shuffle_buffer):
        """The raw run's shuffle buffer: ``data.shuffle_buffer``, at most the split's size
        unless it was streamed (a stream's size is unknown, its buffer never cut)."""
        return shuffle_buffer if self.info.get("streamed") else min(self.count, shuffle_buffer)

    def example_lengths(self):
        """Every training example's padded length (for ``token_batches_per_epoch``)."""
        for length, n in sorted(self.lengths.items()):
            yield from [length] * n

    def describe(self):
        return (f"{self.count:,} train (prepared: {len(self.files)} shard"
                f"{'s' * (len(self.files) > 1)})")


def read_info(folder, task_name):
    """``prepared.json`` of ``folder``, checked: its format and its task."""
    info = run_folder.read_json(os.path.join(folder, PREPARED_FILE))
    if info.get("format") != FORMAT:
        raise TfbigError(f"{os.path.join(folder, PREPARED_FILE)}: format "
                         f"{info.get('format')!r}, expected {FORMAT}; run tfbig.prepare again")
    if info.get("task") != task_name:
        raise TfbigError(f"--data {folder}: prepared for the {info.get('task')} task, not "
                         f"{task_name}; pass --task {info.get('task')} or prepare it again")
    missing = [name for name in info["shards"] if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise TfbigError(f"--data {folder}: shard {missing[0]} is missing (of "
                         f"{len(info['shards'])}); run tfbig.prepare again")
    return info


def check_fixed_fields(config, folder, info):
    """A data field the command sets to another value than the prepared one is an error."""
    for field in FIXED_FIELDS:
        key, prepared = f"data.{field}", info["data"][field]
        if config.is_explicit(key) and getattr(config.data, field) != prepared:
            raise TfbigError(
                f"config field {key}={getattr(config.data, field)!r} contradicts --data "
                f"{folder}, prepared with {key}={prepared!r}; leave it out or run "
                f"tfbig.prepare again with it")


def prepared_choices(config, train):
    """``[(key, value, reason)]``: the prepared folder's data fields and its data defaults,
    applied like data defaults (``tfbig.config.with_data_defaults``) where the command set
    nothing (a contradicting field it set is an error)."""
    info, folder = train.info, train.folder
    check_fixed_fields(config, folder, info)
    chosen = [tuple(choice) for choice in info["data_defaults"]]
    keys = {key for key, _, _ in chosen}
    return chosen + [(f"data.{field}", info["data"][field], f"prepared in {folder}")
                     for field in FIXED_FIELDS if f"data.{field}" not in keys]


def load_prepared_splits(task, folder):
    """``{"train": PreparedTrain, "validation": [...], "test": [...]}`` of a prepared
    folder (``data.val_path``, if set, replaces its validation split)."""
    if not task.preparable:
        raise TfbigError(f"--data {folder}: the {task.name} task cannot train from a "
                         f"tfbig.prepare folder (supported: {', '.join(preparable_tasks())})")
    info = read_info(folder, task.name)
    check_fixed_fields(task.config, folder, info)
    splits = {"train": PreparedTrain(folder, info)}
    data = task.config.data
    fields = task.jsonl_fields(DataConfig())  # written with the default keys
    for split, name in HELD_OUT.items():
        path = os.path.join(folder, name)
        splits[split] = list(read_jsonl(path, fields)) if info["counts"][split] else []
    if data.val_path:
        splits["validation"] = task.read_examples(data.val_path,
                                                  skip_bad_lines=data.skip_bad_lines)
    return splits



def preparable_tasks():
    """The tasks whose class says ``preparable`` (``tfbig.prepare`` can shard their data)."""
    from tfbig.tasks import AVAILABLE, task_class

    return [name for name in AVAILABLE if task_class(name).preparable]

__all__ = ["is_prepared", "PreparedTrain", "load_prepared_splits", "prepared_choices",
           "shard_names", "PREPARED_FILE", "FORMAT", "HELD_OUT", "preparable_tasks"]
