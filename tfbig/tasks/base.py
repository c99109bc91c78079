"""What every task provides to training, prediction and evaluation.

The training loop (``tfbig.training.fit``), ``predict`` and ``evaluate`` only call these
methods, in this order:

    check_augment(), load_splits()      validate + read + split the data (no TensorFlow)
    data_defaults(train)                config values chosen from the data (translate)
    learn_assets(train) / load_assets   tokenizers or label names, learnt from train only
    resolve_lengths(train) → config     fill data-dependent config fields (sequence lengths)
    save_assets(run_dir)
    dataset(examples, training=...)     a tf.data pipeline of (inputs, targets) batches
    build_model(), loss_and_metrics(), monitor, tokens_per_step()
    final_metrics(model, examples) → (metrics, rows);  write_plots(model, examples, folder)
    predict_texts(model, lines) → one output string per input line
"""

from tfbig.data.sources import BadLineReport, iter_examples
from tfbig.data.splits import split_examples
from tfbig.errors import TfbigError
from tfbig.tasks.data_files import data_path


class Task:
    """Base class: data reading and splitting shared by every task.

    Args:
        config: a resolved :class:`tfbig.config.RunConfig`.
    """

    name = None
    models = ()  # the model names that can do this task
    monitor = ("val_loss", "min")  # the metric that picks the best checkpoint

    def __init__(self, config):
        if config.model_name not in self.models:
            raise TfbigError(f"--model {config.model_name} cannot do the {self.name} task; "
                             f"use one of: {', '.join(self.models)}")
        self.config = config

    def check_augment(self):
        """Reject ``data.augment`` names the task does not know, before anything runs.

        Tasks with augmentations override this with their own check."""
        if self.config.data.augment:
            raise TfbigError(f"data.augment: the {self.name} task has no augmentations; "
                             f"remove data.augment")

    def data_defaults(self, train_examples):
        """``[(config key, value, reason)]`` chosen from the training examples, applied where
        the user set nothing (``tfbig.config.with_data_defaults``). None by default."""
        return []

    def read_examples(self, path, *, skip_bad_lines=False, report=None):
        """Every example of ``path`` in the task's shape (fails on the first bad line)."""
        return list(iter_examples(self.name, path, skip_bad_lines=skip_bad_lines,
                                  report=report))

    def split_key(self, path):
        """The function giving an example's split key (``None``: its first field, the text).

        ``path`` is the data path, for tasks whose key must not depend on where it lies."""
        return None

    def load_splits(self):
        """Read the data and split it deterministically (see ``tfbig.data.splits``).

        Returns ``({"train", "validation", "test"} → list of examples, BadLineReport)``.
        With ``data.val_path`` the validation split is that file.
        """
        data = self.config.data
        report = BadLineReport()
        path = data_path(self.config)
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
