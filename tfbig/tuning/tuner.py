"""keras-tuner's four search algorithms, each running its trials through tfbig's training.

A trial is one point of the search space: its config is the search's own config with the
trial's values on top (later wins, as ``--set`` does). It trains ``folds`` times with
``tfbig.runs.fit.train`` (so every task and model can be tuned, and a trial folder is
an ordinary run folder), and its score is the mean over folds of the monitored validation
metric at its best epoch. keras-tuner's oracle picks the trials and keeps the search state
in ``OUTPUT/search/``; tfbig adds one record per trial (fold scores, seconds, error).

    OUTPUT/search/oracle.json, tuner0.json        keras-tuner's state (to resume)
    OUTPUT/search/trial_0003/trial.json           keras-tuner's trial
    OUTPUT/search/trial_0003/tfbig_trial.json     fold scores and seconds
    OUTPUT/search/trial_0003/fold_0/ …            run folders (weights deleted once scored)

In a distributed search (``tfbig.tuning.distributed``) the trials train on the workers, in
their own temporary folders: the chief's ``OUTPUT/search/`` holds keras-tuner's state and
``trial.json`` files, and each trial's record reaches the chief as the trial's metrics
(:data:`FOLD_METRIC`, :data:`SECONDS_METRIC`).
"""

import contextlib
import csv
import dataclasses
import gc
import json
import math
import os
import shutil
import sys
import time

import keras
import keras_tuner
import numpy as np

from tfbig import run_folder
from tfbig.errors import TfbigError
from tfbig.runs import fit
from tfbig.tasks import resolve_config
from tfbig.tuning.folds import trial_splits
from tfbig.tuning.search_space import trial_values

RECORD = "tfbig_trial.json"
# The metrics a trial reports besides its score: what the chief of a distributed search,
# which never sees the workers' folders, rebuilds the record from.
FOLD_METRIC = "tfbig/fold_{}"
SECONDS_METRIC = "tfbig/seconds"
# Extra values keras-tuner's Hyperband gives a trial; "tuner/epochs" is its epoch budget.
HYPERBAND_KEYS = ("tuner/epochs", "tuner/bracket", "tuner/round")
# Unexpected failures (not a TfbigError such as an invalid combination of values) in a row
# that stop the search: something is broken, and more trials would fail the same way.
MAX_CRASHES = 3


def log(message):
    print(message, file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class Plan:
    """What every trial of one search shares."""

    overrides: dict  # the flat config overrides of the search (file, flags, --set)
    dimensions: tuple  # the search_space's Dimensions
    folds: int  # 1 = the usual validation split; K >= 2 = K-fold cross-validation
    monitor: str  # the validation metric a trial is scored by, e.g. "val_loss"
    mode: str  # "min" or "max": which way it improves

    def trial_config(self, values):
        """The resolved config of a trial with keras-tuner's ``values``."""
        overrides = {**self.overrides, **trial_values(self.dimensions, values),
                     "search_space": {}}
        if "tuner/epochs" in values:  # Hyperband's budget for this trial
            overrides["train.epochs"] = int(values["tuner/epochs"])
        return resolve_config(overrides, source="search_space")


def read_record(trial_dir):
    path = os.path.join(trial_dir, RECORD)
    if not os.path.exists(path):
        return {"folds": {}}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def record_from_metrics(trial, folds):
    """A trial's record as the chief of a distributed search sees it: the fold scores and
    seconds its worker reported (none for a failed trial: its worker's log says why)."""
    metrics = trial.metrics
    record = {"folds": {}}
    if metrics.exists(SECONDS_METRIC):
        seconds = metrics.get_last_value(SECONDS_METRIC) / folds  # results.csv sums them back
        for fold in range(folds):
            name = FOLD_METRIC.format(fold)
            if metrics.exists(name):
                record["folds"][str(fold)] = {"score": metrics.get_last_value(name),
                                              "seconds": seconds}
    return record


def fold_score(run_dir, monitor, mode):
    """The best value of ``monitor`` over the epochs in ``run_dir/history.csv`` (NaN when
    every epoch's value is NaN)."""
    path = os.path.join(run_dir, run_folder.HISTORY)
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or monitor not in rows[0]:
        raise TfbigError(f"{path}: no {monitor} column; the search is scored by {monitor}")
    values = np.array([float(row[monitor]) for row in rows])
    if np.all(np.isnan(values)):
        return math.nan
    return float(np.nanmin(values) if mode == "min" else np.nanmax(values))


def _prune(run_dir):
    """A scored fold keeps its config, history, metrics and plots, not its weights (the
    best config is trained again into OUTPUT/best/)."""
    for entry in (run_folder.MODEL, "checkpoints"):
        path = os.path.join(run_dir, entry)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def run_trial(plan, trial_id, values, trial_dir):
    """Train the trial's folds (those not already scored) and return its metrics."""
    record = read_record(trial_dir)
    record.pop("error", None)
    record.pop("crashed", None)

    def save():
        run_folder.write_json(os.path.join(trial_dir, RECORD), record)

    shown = ", ".join(f"{key}={value}" for key, value in
                      trial_values(plan.dimensions, values).items())
    budget = f", {values['tuner/epochs']} epochs" if "tuner/epochs" in values else ""
    log(f"trial {trial_id}: {shown}{budget}")
    try:
        config = plan.trial_config(values)
        for fold in range(plan.folds):
            if str(fold) in record["folds"]:
                continue  # scored before an interruption
            run_dir = os.path.join(trial_dir, f"fold_{fold}")
            started = time.perf_counter()
            if run_folder.run_state(run_dir) != "finished":
                keras.backend.clear_session()  # free the previous fold's model and graphs
                gc.collect()
                with trial_splits(fold, plan.folds):
                    fit.train(config, run_dir)
            score = fold_score(run_dir, plan.monitor, plan.mode)
            record["folds"][str(fold)] = {"score": score,
                                          "seconds": round(time.perf_counter() - started, 1)}
            save()
            _prune(run_dir)
            if plan.folds > 1:
                log(f"trial {trial_id} fold {fold + 1}/{plan.folds}: {plan.monitor} "
                    f"{score:.4f}")
    except TfbigError as error:  # e.g. values that make no valid config together
        record["error"] = str(error)
        save()
        log(f"trial {trial_id}: failed: {error}")
        raise keras_tuner.errors.FailedTrialError(str(error)) from None
    except Exception as error:
        first_line = str(error).splitlines()[0] if str(error) else ""
        record["error"] = f"{type(error).__name__}: {first_line}"
        record["crashed"] = True
        save()
        raise
    scores = [record["folds"][str(fold)]["score"] for fold in range(plan.folds)]
    if any(math.isnan(score) for score in scores):
        record["error"] = f"{plan.monitor} was NaN in every epoch of a fold (training diverged)"
        save()
        raise keras_tuner.errors.FailedTrialError(record["error"])
    mean, std = float(np.mean(scores)), float(np.std(scores))
    log(f"trial {trial_id}: {plan.monitor} {mean:.4f}"
        + (f" ± {std:.4f} over {plan.folds} folds" if plan.folds > 1 else ""))
    seconds = sum(record["folds"][str(fold)]["seconds"] for fold in range(plan.folds))
    return {plan.monitor: mean, f"{plan.monitor}_std": std, SECONDS_METRIC: seconds,
            **{FOLD_METRIC.format(fold): score for fold, score in enumerate(scores)}}


class TfbigTrials:
    """Mixin for a keras-tuner ``Tuner``: trials train through tfbig (:func:`run_trial`),
    and every finished trial updates ``results.csv`` and the score plot.

    Under keras-tuner's distributed variables (``tfbig.tuning.distributed``) the chief's
    ``search()`` serves the oracle and trains nothing, and a worker's trials send the chief
    a heartbeat while they train.

    Args:
        plan: the search's :class:`Plan`.
        on_trial_done: ``(tuner) -> None``, called after each trial is recorded (not on a
            worker, which has no results to write).
        worker_timeout: seconds of silence after which the chief gives a worker up (and a
            worker the chief); None: not distributed.
        **kwargs: the keras-tuner class's own arguments.
    """

    def __init__(self, plan, on_trial_done=None, worker_timeout=None, **kwargs):
        self.plan = plan
        self.on_trial_done = on_trial_done
        self.worker_timeout = worker_timeout
        self.crashes = 0
        super().__init__(**kwargs)
        if self._is_worker():
            from tfbig.tuning.distributed import connect_worker

            connect_worker(self, worker_timeout)

    def search(self, *args, **kwargs):
        from keras_tuner.src.distribute import utils as distribute_utils

        if distribute_utils.is_chief_oracle():
            from tfbig.tuning.distributed import serve

            self.save()
            self.workers = {}  # trial id → the worker that ran it
            serve(self.oracle, self.worker_timeout, self.workers)  # until the search is over
            return
        super().search(*args, **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        heartbeat = contextlib.nullcontext()
        if self._is_worker():
            heartbeat = self.oracle.heartbeat(trial.trial_id, self.worker_timeout / 5)
        with heartbeat:
            return run_trial(self.plan, trial.trial_id, trial.hyperparameters.values,
                             self.get_trial_dir(trial.trial_id))

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self.on_trial_done is not None:
            self.on_trial_done(self)
        record = read_record(self.get_trial_dir(trial.trial_id))
        self.crashes = self.crashes + 1 if record.get("crashed") else 0
        if self.crashes >= MAX_CRASHES:
            raise RuntimeError(f"{MAX_CRASHES} trials in a row failed unexpectedly, the last "
                               f"with {record['error']}; see results.csv (--debug prints the "
                               f"tracebacks)")


class GridTuner(TfbigTrials, keras_tuner.GridSearch):
    """Every combination of the grid, in order (ranges without a step: 10 values)."""

    def reload(self):
        super().reload()
        restore_grid_position(self.oracle)


def restore_grid_position(oracle):
    """Rebuild where a reloaded ``GridSearchOracle`` is in its grid.

    keras-tuner 1.4.8 does not save it (the trials in grid order, and those whose next
    combination is still to try), so a reloaded grid search stopped at once, or raised a
    KeyError after its first trial (keras-team/keras-tuner#1055, open). Every trial so far,
    sorted in the oracle's own grid order, is the same state: each trial's next combination
    is tried unless the trial after it in that order already holds it.
    """
    import functools

    def values(trial_id):
        return oracle.trials[trial_id].hyperparameters.values

    ordered = sorted(oracle.trials, key=functools.cmp_to_key(
        lambda a, b: oracle._compare(values(a), values(b))))
    oracle._ordered_ids = type(oracle._ordered_ids)()  # keras-tuner's LinkedList
    for trial_id in ordered:
        oracle._ordered_ids.insert(trial_id)
    oracle._populate_next = [trial_id for trial_id in oracle.start_order
                             if oracle.trials[trial_id].status != "RUNNING"]


class RandomTuner(TfbigTrials, keras_tuner.RandomSearch):
    """Values drawn at random (seeded), ``max_trials`` trials."""


class HyperbandTuner(TfbigTrials, keras_tuner.Hyperband):
    """Hyperband: many configs on few epochs, the best promoted to more (up to
    ``train.epochs``). A promoted trial trains from scratch for its full budget (tfbig's
    schedules span a run's epochs, so continuing a shorter run would change them)."""


class BayesianTuner(TfbigTrials, keras_tuner.BayesianOptimization):
    """Bayesian optimisation with a Gaussian process (keras-tuner's; needs scikit-learn)."""


TUNER_CLASSES = {"grid": GridTuner, "random": RandomTuner, "hyperband": HyperbandTuner,
                 "bayesian": BayesianTuner}


def make_tuner(name, plan, directory, *, max_trials=None, seed=1, max_epochs=1,
               on_trial_done=None, worker_timeout=None):
    """The keras-tuner tuner ``name`` over ``plan``, its state in ``directory/search``
    (reloaded when there: a rerun resumes the search); ``worker_timeout``: a distributed
    search's (see :class:`TfbigTrials`)."""
    from tfbig.tuning.search_space import hyperparameters

    common = dict(plan=plan, on_trial_done=on_trial_done, worker_timeout=worker_timeout,
                  objective=keras_tuner.Objective(plan.monitor, direction=plan.mode),
                  hyperparameters=hyperparameters(plan.dimensions), seed=seed,
                  max_retries_per_trial=0, max_consecutive_failed_trials=10**9,
                  directory=directory, project_name="search", overwrite=False)
    if name == "hyperband":
        tuner = HyperbandTuner(max_epochs=max_epochs, factor=3, **common)
        tuner.oracle.max_trials = max_trials  # Hyperband has no such argument; Oracle does
    elif name == "grid":
        tuner = GridTuner(max_trials=max_trials, **common)
    else:
        tuner = TUNER_CLASSES[name](max_trials=max_trials or 10, **common)
    tuner.oracle.verbose = 0  # tfbig logs each trial on stderr itself
    # keras-tuner reloads a search only when it finds the tuner's file, which it first
    # writes when a trial ends: write it now, so that a search interrupted in its first
    # trial resumes that trial too.
    tuner.save()
    return tuner
