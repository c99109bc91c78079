"""Which examples a search trial trains and validates on.

A trial trains through tfbig's own ``tfbig.runs.fit.train``, which reads its data with
the task's ``load_splits()``. While :func:`trial_splits` is active that returns, instead of
the usual three splits:

- ``folds == 1``: the usual train and validation splits;
- ``folds >= 2``: fold ``fold`` of a k-fold split (``tfbig.data.splits.kfold``, by the same
  stable hash of the example's key as the usual splits) of the training data: the usual
  train split plus the validation split when that is cut from ``--data`` (a separate
  ``--val-data`` file stays out of the folds).

Either way the test split is empty: the search never looks at it; only the final best run
(trained outside this context) is scored on it.

Example:
    with trial_splits(fold=1, folds=5):
        train(config, run_dir)     # trains on 4/5 of the training data, validates on 1/5
"""

import contextlib

from tfbig.data.splits import kfold
from tfbig.tasks.base import Task


def training_pool(task, splits):
    """The examples k-fold cross-validation divides: every one outside the test split
    (and outside a ``--val-data`` file)."""
    data = task.config.data
    validation = splits["validation"]
    # Task.load_splits falls back to the test split (or one training example) when the
    # validation split came out empty: those must not join the pool.
    own_validation = (not data.val_path and validation is not splits["test"]
                      and validation != splits["train"][:1])
    return splits["train"] + (validation if own_validation else [])


def fold_splits(task, splits, fold, folds):
    """``{"train", "validation", "test": []}`` of fold ``fold`` of ``folds``."""
    key = task.split_key(task.data_path())
    for index, (train, validation) in enumerate(kfold(training_pool(task, splits), folds,
                                                      key)):
        if index == fold:
            return {"train": train, "validation": validation, "test": []}
    raise AssertionError(f"fold {fold} of {folds}")


@contextlib.contextmanager
def trial_splits(fold=0, folds=1):
    """Make every task's ``load_splits()`` return a search trial's splits (see above).

    Subclasses that check their splits (classify, image: every validation label occurs in
    training) still run their checks, on the fold's splits.
    """
    original = Task.load_splits

    def load_trial_splits(task):
        splits, report = original(task)
        if folds >= 2:
            return fold_splits(task, splits, fold, folds), report
        return {**splits, "test": []}, report

    Task.load_splits = load_trial_splits
    try:
        yield
    finally:
        Task.load_splits = original
