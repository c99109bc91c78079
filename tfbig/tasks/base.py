"""What every task provides to training, prediction and evaluation.

The training loop (``tfbig.runs.fit``), ``predict`` and ``evaluate`` only call these
methods, in this order:

    check_augment(), load_splits()      validate + read + split the data (no TensorFlow)
    data_defaults(train)                config values chosen from the data (translate)
    learn_assets(train) / load_assets   tokenizers or label names, learnt from train only
    load_label_assets(run_dir)          (evaluate) what reading data needs: a run's labels
    check_inputs(lines)                 (predict) input lines checked before the model loads
    resolve_lengths(train) → config     fill data-dependent config fields (sequence lengths)
    warn_truncation(splits)             one line per split whose examples the limits cut
    save_assets(run_dir)
    dataset(examples, training=...)     a tf.data pipeline of (inputs, targets) batches
    build_model(), loss_and_metrics(), monitor, tokens_per_step()
    final_metrics(model, examples) → (metrics, rows);  write_plots(model, examples, folder)
    predict_texts(model, lines) → one output string per input line
"""

import os
import sys

from tfbig.data.jsonl import LABEL, TEXT, is_jsonl, read_jsonl
from tfbig.data.sources import BadLineReport
from tfbig.data.splits import split_examples
from tfbig.config import replace
from tfbig.config_fields import ModelConfig
from tfbig.errors import TfbigError
from tfbig.tasks.data_files import data_path
from tfbig.tasks.prepared import (PreparedTrain, is_prepared, load_prepared_splits,
                                  prepared_choices)
from tfbig.tasks.streaming import TrainStream, load_streamed_splits, should_stream

POSITIONAL_DEFAULT = ModelConfig.positional  # "sinusoidal": the paper's


class Task:
    """Base class: what a task is, and the data reading and splitting every task shares.

    A task is one class: the class attributes below are all that the config, the training
    job and the exporter know about it (``tfbig.tasks.resolve_config`` reads them).

    Args:
        config: a resolved :class:`tfbig.config.RunConfig`; an empty ``model.name`` becomes
            the task's default model.
    """

    name = None
    models = ()  # the model names that can do this task; the first is its default
    # the models that read model.positional (the others have their own positions: BERT's
    # learned table, ViT's patch table; or none: RNN, CNN), so any other value is refused
    positional_models = ()
    sample_data = ""  # file or folder in tfbig/sample_data/ it trains on without --data
    reader = None  # reads a data file: e.g. staticmethod(tfbig.data.sources.read_pairs)
    # reads shards, globs, .gz and files too big for memory as a tf.data stream
    # (tfbig.data.stream, see tfbig.tasks.streaming); None: the task never streams
    stream_reader = None
    text_folder = False  # a folder of .txt files is one corpus read in memory (lm, mlm)
    # JSONL data (tfbig.data.jsonl): the data config fields naming an example's JSON keys,
    # in the example's order ("label_field" is a label: a string or an integer); () = none
    json_fields = ()
    preparable = False  # python -m tfbig.prepare can tokenise its data into shards
    # tfbig.prepare: the features of one tokenised training example, in order, each
    # (name, "ids" | "id"): an int vector or one int (tfbig.data.prepared_shards); the task
    # makes them (prepared_ids) and batches them (its dataset() of a PreparedTrain)
    prepared_features = ()
    explainable = False  # evaluate / predict --explain give token attributions
    monitor = ("val_loss", "min")  # the metric that picks the best checkpoint
    # The validation metrics its compiled model logs, and those ``epoch_scorer`` adds at each
    # epoch end: together what train.monitor may name (tests/training/test_task_metrics.py
    # checks both against a real fit).
    keras_metrics = ("val_loss", "val_masked_accuracy")
    epoch_metrics = ()
    # Where the field defaults (which suit the translation Transformer) do not suit the
    # task: {"": for any model, model name: for that model} → {"section.field": value}. A
    # preset, a config file, flags and --set all win over these.
    defaults = {}
    # Fine-tuning (tfbig.runs.finetune): the tasks whose BERT backbone this task can train
    # under a new head of its own, from a run folder or a Hugging Face checkpoint. () = a
    # run of this task continues as a whole model, nothing else.
    backbone_sources = ()

    def __init__(self, config):
        if not config.model.name:
            config = replace(config, model={"name": self.models[0]})
        self.check_config(config)
        self.config = config

    @classmethod
    def config_defaults(cls, model_name):
        """The task's ``{"section.field": value}`` defaults for ``model_name``."""
        return {**cls.defaults.get("", {}), **cls.defaults.get(model_name, {})}

    @classmethod
    def monitorable(cls, config):
        """The validation metrics a run of ``config`` logs each epoch (what
        ``train.monitor`` may name)."""
        return cls.keras_metrics + (cls.epoch_metrics if config.train.epoch_metrics_examples
                                    else ())

    @classmethod
    def check_config(cls, config):
        """Reject a model that cannot do the task, or a ``train.monitor`` it never logs."""
        if config.model_name not in cls.models:
            raise TfbigError(f"--model {config.model_name} cannot do the {cls.name} task; "
                             f"use one of: {', '.join(cls.models)}")
        positional = config.model.positional
        if positional != POSITIONAL_DEFAULT and config.model_name not in cls.positional_models:
            readers = (f"; it applies to {cls.name}'s {', '.join(cls.positional_models)}"
                       if cls.positional_models else "")
            raise TfbigError(f"config field model.positional={positional!r}: the {cls.name} "
                             f"task's {config.model_name} model does not read it{readers}; "
                             f"leave it unset")
        monitor, monitorable = config.train.monitor, cls.monitorable(config)
        if monitor and monitor not in monitorable:
            hint = (" (it is computed only when train.epoch_metrics_examples > 0)"
                    if monitor in cls.epoch_metrics else "")
            raise TfbigError(f"config field train.monitor={monitor!r}: expected one of "
                             f"{', '.join(monitorable)} for the {cls.name} task{hint}")

    def data_path(self):
        """``data.path``, or the task's shipped sample when it is empty."""
        return data_path(self.config.data.path, self.sample_data)

    def serving_module(self, model, max_length=None):
        """The ``tf.Module`` that ``tfbig.export`` saves: raw strings in, answers out, the
        tokenizers inside the graph (``tfbig.serving.modules``).

        Args:
            model: the run's model.
            max_length: tokens to generate at most (tasks that generate); ``None``: the
                run's own length, as ``predict`` uses.
        """
        raise TfbigError(f"exporting a {self.name} run is not supported")

    def check_no_max_length(self, max_length):
        """``--max-length`` given to a task that generates nothing is a usage error."""
        if max_length is not None:
            raise TfbigError(f"--max-length applies to translate and lm runs, not to a "
                             f"{self.name} run; leave it out")

    def epoch_scorer(self, validation, max_examples):
        """``model -> {name: value}`` scoring ``validation`` at each epoch end (names without
        the ``val_`` prefix, matching ``epoch_metrics``), or None: the task has none."""
        return None

    def check_inputs(self, lines):
        """Check ``predict``'s input lines before the model loads (a class-folder task: each
        line is an existing file); nothing for text inputs, where any line is valid."""

    def load_label_assets(self, run_dir):
        """Load what ``read_examples`` needs of a finished run: a classifier's label names
        (plain files, so ``evaluate --data`` checks the file before TensorFlow loads).
        Nothing for tasks without labels; ``load_assets`` loads them too."""

    def check_augment(self):
        """Reject ``data.augment`` names the task does not know, before anything runs.

        Tasks with augmentations override this with their own check."""
        if self.config.data.augment:
            raise TfbigError(f"data.augment: the {self.name} task has no augmentations; "
                             f"remove data.augment")

    def data_defaults(self, train_examples):
        """``[(config key, value, reason)]`` chosen from the training examples, applied where
        the user set nothing (``tfbig.config.with_data_defaults``). None by default; a
        ``tfbig.prepare`` folder's data fields (``prepared_choices``)."""
        if isinstance(train_examples, PreparedTrain):  # chosen when it was prepared
            return prepared_choices(self.config, train_examples)
        return []

    def read_examples(self, path, *, skip_bad_lines=False, report=None, labels=None):
        """Every example of ``path`` in the task's shape, read by its ``reader`` (a
        ``tfbig.data.sources`` function: the data format and its error messages), or as
        JSON Lines (a ``.jsonl``/``.jsonl.gz`` file, ``jsonl_fields``); the first bad line
        is an error unless ``skip_bad_lines``. ``labels``: the known labels (classify)."""
        if is_jsonl(path) and self.json_fields:
            return list(read_jsonl(path, self.jsonl_fields(), skip_bad_lines=skip_bad_lines,
                                   report=report, labels=labels))
        options = {} if labels is None else {"labels": labels}
        return list(self.reader(path, skip_bad_lines=skip_bad_lines, report=report, **options))

    def jsonl_fields(self, data=None):
        """``((JSON key, kind), …)`` of a JSONL example (``tfbig.data.jsonl``): the keys the
        ``json_fields`` of ``data`` (default: the run's data config) name."""
        data = data or self.config.data
        return tuple((getattr(data, field), LABEL if field == "label_field" else TEXT)
                     for field in self.json_fields)

    def split_key(self, path):
        """The function giving an example's split key (``None``: its first field, the text).

        ``path`` is the data path, for tasks whose key must not depend on where it lies."""
        return None

    def load_splits(self):
        """Read the data and split it deterministically (see ``tfbig.data.splits``).

        Returns ``({"train", "validation", "test"} → list of examples, BadLineReport)``.
        With ``data.val_path`` the validation split is that file. A streamed corpus
        (``tfbig.tasks.streaming``) gives a ``TrainStream`` for "train".
        """
        data = self.config.data
        report = BadLineReport()
        path = self.data_path()
        if is_prepared(path):  # a tfbig.prepare folder (tfbig.tasks.prepared)
            return load_prepared_splits(self, path), report
        if should_stream(self, path, data.stream_threshold_mb):
            return load_streamed_splits(self, path, report, getattr(self, "labels", None)), report
        examples = self.read_examples(path, skip_bad_lines=data.skip_bad_lines, report=report)
        if data.val_path:
            splits = split_examples(examples, self.split_key(path), validation=0.0,
                                    test=data.test_split)
            splits["validation"] = self.read_examples(
                data.val_path, skip_bad_lines=data.skip_bad_lines, report=report)
        else:
            splits = split_examples(examples, self.split_key(path),
                                    validation=data.validation_split, test=data.test_split)
        if not splits["train"]:
            raise TfbigError(f"{path}: no training examples left after holding out validation "
                             f"and test splits ({len(examples)} examples)")
        if not splits["validation"]:
            splits["validation"] = splits["test"] or splits["train"][:1]
        return splits, report

    def warn_truncation(self, splits):
        """Print one line per held-out split whose examples the length limits cut
        (``tfbig.data.truncation``; the training split's come from ``resolve_lengths``).
        Tasks without length limits print nothing."""

    def resolve_steps(self, train_examples):
        """``train.steps_per_epoch`` of a streamed training split when it is 0: the task's
        batches of the sample, scaled to the estimated split (logged as a data default).
        In-memory splits: the config as it is."""
        train = self.config.train
        if not isinstance(train_examples, TrainStream) or train.steps_per_epoch:
            return self.config
        sample = list(train_examples)
        batches = getattr(self, "train_batches", None)
        in_sample = batches(sample) if batches else len(sample) // train.batch_size
        steps = train_examples.steps(in_sample)
        print(f"default from the data: train.steps_per_epoch={steps} "
              f"({train_examples.reason})", file=sys.stderr, flush=True)
        self.config = replace(self.config, train={"steps_per_epoch": steps})
        return self.config

    # ------------------------------------------------------------------ tfbig.prepare
    def prepared_ids(self, train_examples):
        """The training split tokenised, one example at a time in its order: a
        ``tf.data.Dataset`` of int32 tensors as ``prepared_features`` lists them (what
        ``tfbig.prepare`` writes; the first half of the task's training pipeline)."""
        raise TfbigError(f"tfbig.prepare cannot tokenise the {self.name} task's data")

    @staticmethod
    def prepared_length(example):
        """An example's padded length, for ``prepared.json``'s histogram: its first ids'."""
        return len(example[0] if isinstance(example, tuple) else example)

    @staticmethod
    def prepared_examples(train):
        """The tokenised examples of a :class:`~tfbig.tasks.prepared.PreparedTrain`, in
        the order they were written (``tfbig.data.prepared_shards``); a multi-worker share
        (``for_input_pipeline``) reads its own shards, or keeps its share of examples."""
        from tfbig.data.prepared_shards import read_shards

        examples = read_shards(train.files, train.count, train.info["features"])
        return examples if train.example_shard is None else examples.shard(*train.example_shard)

    def check_prepared_tokenizer(self, train, folder_name="tokenizer"):
        """Ids mean nothing under another vocabulary (e.g. fine-tuning another run's
        tokenizer): a :class:`TfbigError` unless ``self.tokenizer`` is the folder's."""
        from tfbig.tasks.assets import load_text_tokenizer

        prepared = load_text_tokenizer(os.path.join(train.folder, folder_name))
        if prepared.vocabulary != self.tokenizer.vocabulary:
            raise TfbigError(f"--data {train.folder}: its tokenizer is not this run's; train "
                             f"from the raw corpus, or prepare it with this run's tokenizer")

    @staticmethod
    def pipeline_input(examples, **options):
        """What a pipeline reads: a streamed training split's ``tf.data`` stream (opened
        with ``options``, e.g. ``labels=``), or the list itself."""
        return examples.dataset(**options) if isinstance(examples, TrainStream) else examples
