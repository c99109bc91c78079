"""The text classification task (sentiment, topic, intent, …).

Data: a TSV of ``text<TAB>label`` lines, or a CSV whose header names ``text`` and ``label``;
labels are names or integers. Models: BERT (default), a bidirectional LSTM, Kim's CNN.
Loss: sparse categorical cross-entropy; metric: accuracy (the best checkpoint has the best
``val_accuracy``). Final metrics: accuracy, macro/weighted precision, recall and F1, the
per-class scores and the confusion matrix; plots of the last two.
"""

import os

from tfbig.config import replace
from tfbig.data.jsonl import is_jsonl, numbered_jsonl
from tfbig.data.sources import numbered_labelled, read_labelled
from tfbig.errors import TfbigError
from tfbig.tasks.class_scores import ClassScoresTask
from tfbig.tasks.prepared import PreparedTrain
from tfbig.tasks.labels import check_split_labels, learn_labels, load_labels, save_labels
from tfbig.tasks.streaming import TrainStream

TOKENIZER = "tokenizer"
# config.model.name → the build_model name of the classifier
MODEL_NAMES = {"bert": "bert", "rnn": "rnn", "cnn": "cnn"}


class ClassifyTask(ClassScoresTask):
    """Everything the classify task needs, from the data file to predicted label names.

    The label set is learnt from the training split (sorted, saved as ``labels.json``); a
    validation or test label missing from it stops the run before training starts.

    Args:
        config: a resolved :class:`tfbig.config.RunConfig` with ``task="classify"``.
    """

    name = "classify"
    models = tuple(MODEL_NAMES)
    sample_data = "reviews.tsv"
    backbone_sources = ("mlm", "classify")
    reader = staticmethod(read_labelled)
    json_fields = ("text_field", "label_field")
    preparable = True
    prepared_features = (("token_ids", "ids"), ("label", "id"))  # [CLS] … [SEP], class id
    explainable = True
    monitor = ("val_accuracy", "max")

    @staticmethod
    def stream_reader(files, **options):
        """A stream of shards, globs, ``.gz`` or a big file (``tfbig.tasks.streaming``)."""
        from tfbig.data.stream import labelled_stream  # TensorFlow loads only here

        return labelled_stream(files, **options)

    def __init__(self, config):
        super().__init__(config)
        self.tokenizer = None
        self.labels = None  # class i is labels[i]
        self._scored = None  # (examples, y_true, y_pred, report) of the last final_metrics

    def check_augment(self):
        """Token-level text augmentation (``data.augment``) as in translate."""
        if self.config.data.augment:  # (the import loads TensorFlow: only when needed)
            from tfbig.data.augment_text import TextAugmentConfig

            TextAugmentConfig.from_dict(self.config.data.augment)

    def read_examples(self, path, *, skip_bad_lines=False, report=None):
        """The file's ``(text, label)`` pairs; once the run's labels are known (evaluate),
        a line with another label is a bad line (``path:line: label 'x' is not in the
        training labels …``): an error, or skipped and counted with ``skip_bad_lines``."""
        return super().read_examples(path, skip_bad_lines=skip_bad_lines, report=report,
                                     labels=self.labels)

    def load_splits(self):
        """Split the data; every validation/test label must occur in the training split."""
        splits, report = super().load_splits()
        train = splits["train"]
        if isinstance(train, PreparedTrain):  # its labels were learnt when it was prepared
            train = [(None, label) for label in load_labels(train.folder)]
        check_split_labels({**splits, "train": train}, lambda example: example[1],
                           self.data_path(), self.config.data.val_path,
                           line_of=lambda path, example: _line_of(path, example,
                                                                  self.jsonl_fields()))
        return splits, report

    def learn_assets(self, train_examples):
        """Learn the label set and a WordPiece vocabulary from the training split only."""
        from tfbig.data.tokenizers import learn_tokenizer

        if isinstance(train_examples, PreparedTrain):  # learnt when it was prepared
            self.load_assets(train_examples.folder)
            return
        data = self.config.data
        self.labels = learn_labels(label for _, label in train_examples)
        kind = "wordpiece" if data.tokenizer == "auto" else data.tokenizer
        self.tokenizer = learn_tokenizer(
            kind, (text for text, _ in train_examples), vocab_size=data.vocab_size,
            lower_case=data.lower_case, strip_accents=data.strip_accents)

    def resolve_lengths(self, train_examples):
        """``data.max_source_length`` (0 = the longest training text + [CLS] and [SEP]),
        capped at ``model.max_length``: the classifier's ``T``. Longer texts are cut, and
        counted on stderr (``tfbig.data.truncation``)."""
        if isinstance(train_examples, PreparedTrain):  # fixed (and its texts cut) when prepared
            return self.config
        from tfbig.data.token_lengths import tokenized_lengths

        data, cap = self.config.data, self.config.model.max_length
        lengths = tokenized_lengths((text for text, _ in train_examples), self.tokenizer) + 2
        length = data.max_source_length or int(lengths.max(initial=0))
        self.config = replace(self.config, data={"max_source_length": min(max(length, 3), cap)})
        self._warn_cut("training", lengths, sample=isinstance(train_examples, TrainStream)
                       and not train_examples.complete)
        return self.config

    def warn_truncation(self, splits):
        """One line per held-out split with texts longer than ``data.max_source_length``
        (tokenised here once: bounded splits that nothing else counts)."""
        from tfbig.data.token_lengths import tokenized_lengths

        for split in ("validation", "test"):
            examples = splits.get(split)
            if examples and not (split == "test" and examples is splits.get("validation")):
                self._warn_cut(split, tokenized_lengths(
                    (text for text, _ in examples), self.tokenizer) + 2)

    def _warn_cut(self, split, lengths, sample=False):
        """``lengths``: token counts with [CLS] and [SEP], as ``data.max_source_length``."""
        from tfbig.data.truncation import warn_truncated

        warn_truncated(lengths, self.config.data.max_source_length, what=f"{split} texts",
                       field="data.max_source_length", sample=sample,
                       max_length=self.config.model.max_length)

    def save_assets(self, run_dir):
        self.tokenizer.save(os.path.join(run_dir, TOKENIZER))
        save_labels(self.labels, run_dir)

    def load_assets(self, run_dir):
        from tfbig.tasks.assets import load_text_tokenizer

        self.tokenizer = load_text_tokenizer(os.path.join(run_dir, TOKENIZER))
        self.load_label_assets(run_dir)

    def load_label_assets(self, run_dir):
        self.labels = load_labels(run_dir)

    @property
    def label_ids(self):
        return {label: index for index, label in enumerate(self.labels)}

    def dataset(self, examples, *, training, batch_size=None):
        """Batches ``({"token_ids", "padding_mask"}, label ids)`` for fit/evaluate."""
        from tfbig.data.pipeline_text import classification_dataset

        data, train = self.config.data, self.config.train
        if isinstance(examples, PreparedTrain):
            return self._prepared_dataset(examples, training=training, batch_size=batch_size)
        return classification_dataset(
            self.pipeline_input(examples, labels=list(self.labels)), self.tokenizer, self.label_ids,
            batch_size=batch_size or train.batch_size, sequence_length=data.max_source_length,
            shuffle=training, seed=train.seed, shuffle_buffer=data.shuffle_buffer,
            repeat=training and train.steps_per_epoch > 0, drop_remainder=training,
            augment=data.augment if training and data.augment else None)

    def prepared_ids(self, train_examples):
        """``(ids, label id)`` of each training example (``classification_ids``): what
        ``tfbig.prepare`` writes."""
        from tfbig.data.pipeline_text import classification_ids

        data = self.config.data
        dataset, _, _ = classification_ids(
            self.pipeline_input(train_examples, labels=list(self.labels)), self.tokenizer,
            self.label_ids, sequence_length=data.max_source_length,
            shuffle_buffer=data.shuffle_buffer)
        return dataset

    def _prepared_dataset(self, train_ids, *, training, batch_size=None):
        """``dataset`` of a prepared folder's training split: the raw pipeline from the ids
        on (``id_classification_dataset``), so the batches are the raw corpus's."""
        from tfbig.data.augment_text import text_augmenter
        from tfbig.data.pipeline_text import id_classification_dataset

        self.check_prepared_tokenizer(train_ids, TOKENIZER)
        if load_labels(train_ids.folder) != self.labels:
            raise TfbigError(f"--data {train_ids.folder}: its labels are not this run's "
                             f"{self.labels}; train from the raw corpus")
        data, train = self.config.data, self.config.train
        augment = (text_augmenter(data.augment, self.tokenizer.vocab_size)
                   if training and data.augment else None)
        return id_classification_dataset(
            self.prepared_examples(train_ids), batch_size=batch_size or train.batch_size,
            sequence_length=data.max_source_length, shuffle=training, seed=train.seed,
            augment=augment, buffer_size=train_ids.buffer_size(data.shuffle_buffer),
            repeat=training and train.steps_per_epoch > 0, drop_remainder=training,
            by_file=True)

    def tokens_per_step(self):
        return self.config.train.batch_size * self.config.data.max_source_length

    # ------------------------------------------------------------------------------- model
    def build_model(self):
        """BERT, the LSTM or the CNN at ``config.model``'s sizes (RNN/CNN: ``d_model`` is the
        embedding size and the LSTM units / CNN filters per kernel width)."""
        from tfbig.models.build import build_model

        model, length = self.config.model, self.config.data.max_source_length
        common = dict(vocabulary_size=self.tokenizer.vocab_size, num_classes=len(self.labels),
                      dropout=model.dropout_rate)
        if self.config.model_name == "bert":
            classifier = build_model(
                "bert", num_layers=model.num_layers, num_heads=model.num_heads,
                hidden_dim=model.d_model, intermediate_dim=model.dff,
                max_sequence_length=max(model.max_length, length), **common)
        elif self.config.model_name == "rnn":
            classifier = build_model("rnn", embedding_dim=model.d_model, units=model.d_model,
                                     **common)
        else:
            classifier = build_model("cnn", embedding_dim=model.d_model, filters=model.d_model,
                                     **common)
        classifier.build({"token_ids": (None, length), "padding_mask": (None, length)})
        return classifier

    # ------------------------------------------------------------------- predict, evaluate
    def predict_texts(self, model, texts, *, method="greedy", max_length=None, batch_size=64,
                      **sampling):
        """One label name per text, ``""`` for a blank one (:mod:`tfbig.tasks.blank_lines`);
        decoding options do not apply to classification."""
        from tfbig.tasks.blank_lines import answer_non_blank

        def classify(asked):
            placeholder = self.labels[0]  # the pipeline wants a label; it is not used
            logits = self.logits(model, [(text, placeholder) for text in asked], batch_size)
            return [self.labels[index] for index in logits.argmax(axis=-1)]

        return answer_non_blank(texts, classify)

    def final_metrics(self, model, examples):
        """Accuracy, precision/recall/F1 (macro and weighted), per-class scores, the
        confusion matrix and its most confused label pairs on ``examples`` (and ROC-AUC for
        two labels); rows hold text, label, prediction, loss (nats).

        ``majority_class_accuracy`` is what always answering the most frequent label of
        ``examples`` scores: the bar a model has to clear.
        """
        import numpy as np

        from tfbig.scoring.classification import (classification_report, confusion_matrix,
                                                     most_confused_pairs, roc_auc)

        logits = self.logits(model, examples)
        y_true = np.array([self.label_ids[label] for _, label in examples])
        y_pred = logits.argmax(axis=-1)
        log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
        losses = -log_probs[np.arange(len(y_true)), y_true]
        report = classification_report(y_true, y_pred, class_names=self.labels)
        self._scored = (examples, y_true, y_pred, report)
        matrix = confusion_matrix(y_true, y_pred, num_classes=len(self.labels))
        metrics = {
            "examples": len(examples),
            "accuracy": report["accuracy"],
            **{f"{average}_{score}": report[average][score]
               for average in ("macro", "weighted") for score in ("precision", "recall", "f1")},
            "cross_entropy": float(losses.mean()),
            "majority_class_accuracy": float(np.bincount(y_true).max() / len(y_true)),
        }
        if len(self.labels) == 2 and 0 < y_true.sum() < len(y_true):
            # Binary: ROC-AUC of the second label's score (its logit margin), when the
            # examples hold both labels.
            metrics["roc_auc"] = roc_auc(y_true, logits[:, 1] - logits[:, 0])
        metrics.update({
            "per_class": report["classes"],
            "confusion_matrix": matrix.tolist(),
            "most_confused": most_confused_pairs(matrix, self.labels),
        })
        rows = [{"text": text, "label": label, "prediction": self.labels[prediction],
                 "loss": float(loss)}
                for (text, label), prediction, loss in zip(examples, y_pred, losses)]
        return metrics, rows

    def serving_module(self, model, max_length=None):
        from tfbig.serving.modules import ClassifyServing

        self.check_no_max_length(max_length)
        return ClassifyServing(model, self.tokenizer, self.labels,
                               self.config.data.max_source_length)

    def write_plots(self, model, examples, folder):
        """The confusion matrix and per-class precision/recall/F1 bars of ``examples``."""
        return write_classification_plots(self, model, examples, folder)


def _line_of(path, example, jsonl_fields):
    """The line of ``path`` where ``example`` first occurs (for an error message), or None
    (``path`` is not one file: a stream's folder or glob)."""
    if not os.path.isfile(path):
        return None
    numbered = (numbered_jsonl(path, jsonl_fields) if is_jsonl(path)
                else numbered_labelled(path))
    for line, found in numbered:
        if found == example:
            return line
    return None


def write_classification_plots(task, model, examples, folder):
    """Confusion matrix + per-class bars (shared by the image task); reuses the scores of
    the task's last ``final_metrics`` when it scored these same examples."""
    from tfbig import plots
    from tfbig.scoring.classification import confusion_matrix

    if task._scored is None or task._scored[0] is not examples:
        task.final_metrics(model, examples)
    _, y_true, y_pred, report = task._scored
    matrix = confusion_matrix(y_true, y_pred, num_classes=len(task.labels))
    return [plots.plot_confusion_matrix(matrix, task.labels,
                                        os.path.join(folder, "confusion_matrix.png")),
            plots.plot_per_class_bars(report, os.path.join(folder, "per_class.png"))]
