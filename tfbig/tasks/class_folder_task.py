"""What the tasks whose data is a folder of class folders share (``image``, ``audio``): one
example is ``(file path, class name)``; the classes are the sub-folders; one row of logits
per file; the same final scores and plots."""

import os

from tfbig.errors import TfbigError
from tfbig.tasks.class_scores import ClassScoresTask
from tfbig.tasks.classify import write_classification_plots
from tfbig.tasks.labels import (check_labels, check_split_labels, learn_labels, load_labels,
                                save_labels)


class ClassFolderTask(ClassScoresTask):
    """A task reading ``class_name/*.<ext>`` files. Subclasses set ``list_folder`` (e.g.
    ``staticmethod(tfbig.data.sources.list_images)``) and may check each file as it is read
    (``check_file``)."""

    list_folder = None  # folder → (paths, label ids, class names)
    kind = "files"  # what a file is, in messages and docstrings ("images", "clips")
    input_files = "file"  # predict's input lines, in its messages (".wav" → "one .wav path")

    def __init__(self, config):
        super().__init__(config)
        self.labels = None  # class i is labels[i]
        self._scored = None  # (examples, y_true, y_pred, report) of the last final_metrics

    def check_file(self, path):
        """Called on every file read: a bad one fails here, named (nothing by default)."""

    def check_inputs(self, lines):
        """Each non-blank line is the path of a file that ``check_file`` accepts; an error
        names the input line."""
        for number, line in enumerate(lines, start=1):
            path = line.strip()
            if not path:
                continue
            if not os.path.isfile(path):
                raise TfbigError(f"input line {number}: {path}: no such file (expected one "
                                 f"{self.input_files} path per line)")
            try:
                self.check_file(path)
            except TfbigError as error:
                raise TfbigError(f"input line {number}: {error}") from None

    def read_examples(self, path, *, skip_bad_lines=False, report=None):
        """The folder's ``(file, class_name)`` pairs; once the run's labels are known
        (evaluate), a class folder outside them is an error."""
        paths, label_ids, class_names = self.list_folder(path)  # a folder has no bad lines
        for file in paths:
            self.check_file(file)
        examples = [(file, class_names[label]) for file, label in zip(paths, label_ids)]
        if self.labels is not None:
            check_labels((label for _, label in examples), self.labels, path)
        return examples

    def split_key(self, path):
        """``class_name/file``: the split stays the same wherever the folder is moved."""
        return lambda example: os.path.relpath(example[0], path).replace(os.sep, "/")

    def load_splits(self):
        """Split the files; every validation/test class must occur in the training split."""
        splits, report = super().load_splits()
        check_split_labels(splits, lambda example: example[1], self.data_path(),
                           self.config.data.val_path)
        return splits, report

    def learn_assets(self, train_examples):
        self.labels = learn_labels(label for _, label in train_examples)

    def save_assets(self, run_dir):
        save_labels(self.labels, run_dir)

    def load_assets(self, run_dir):
        self.load_label_assets(run_dir)

    def load_label_assets(self, run_dir):
        self.labels = load_labels(run_dir)

    @property
    def label_ids(self):
        return {label: index for index, label in enumerate(self.labels)}

    def final_metrics(self, model, examples):
        """Accuracy, top-k accuracy, macro F1, per-class scores, the confusion matrix and its
        most confused class pairs on ``examples``; rows hold path, label, prediction, loss
        (nats)."""
        return folder_class_metrics(self, model, examples)

    def write_plots(self, model, examples, folder):
        """The confusion matrix and per-class precision/recall/F1 bars of ``examples``."""
        return write_classification_plots(self, model, examples, folder)


def folder_class_metrics(task, model, examples):
    """Accuracy, top-k accuracy (k = min(5, classes)), macro F1, per-class precision/recall/F1,
    the confusion matrix and its most confused class pairs on ``examples``; rows hold path,
    label, prediction and loss (nats).

    Keeps ``(examples, y_true, y_pred, report)`` as ``task._scored``, so that
    ``write_classification_plots`` draws these same scores without a second pass.

    Args:
        task: a :class:`tfbig.tasks.class_scores.ClassScoresTask` with ``labels`` and
            ``label_ids``.
        model: its model.
        examples: ``(path, class name)`` pairs.
    """
    import numpy as np

    from tfbig.scoring.classification import (classification_report, confusion_matrix,
                                                 most_confused_pairs, top_k_accuracy)

    logits = task.logits(model, examples)
    y_true = np.array([task.label_ids[label] for _, label in examples])
    y_pred = logits.argmax(axis=-1)
    log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    losses = -log_probs[np.arange(len(y_true)), y_true]
    report = classification_report(y_true, y_pred, class_names=task.labels)
    task._scored = (examples, y_true, y_pred, report)
    k = min(5, len(task.labels))
    matrix = confusion_matrix(y_true, y_pred, num_classes=len(task.labels))
    metrics = {
        "examples": len(examples),
        "accuracy": report["accuracy"],
        f"top_{k}_accuracy": top_k_accuracy(y_true, logits, k),
        "macro_f1": report["macro"]["f1"],
        "cross_entropy": float(losses.mean()),
        "chance_accuracy": 1.0 / len(task.labels),
        "per_class": report["classes"],
        "confusion_matrix": matrix.tolist(),
        "most_confused": most_confused_pairs(matrix, task.labels),
    }
    rows = [{"path": path, "label": label, "prediction": task.labels[prediction],
             "loss": float(loss)}
            for (path, label), prediction, loss in zip(examples, y_pred, losses)]
    return metrics, rows
