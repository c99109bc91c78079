"""One search, from the resolved flags to the best run: the library side of ``tfbig.tune``.

    OUTPUT/tune_config.json   the search's resolved config (with its search_space), tuner,
                              folds and objective
    OUTPUT/search/            keras-tuner's state and the trials: rerun the same command to
                              resume (finished trials are not run again)
    OUTPUT/results.csv        one row per trial (see tfbig.tuning.results)
    OUTPUT/scores.png         the score of each trial
    OUTPUT/best_config.json   the best trial's full config: ``train --config`` accepts it
    OUTPUT/best/              a run folder: the best config trained on the usual splits and
                              scored on the test split, which the search never saw

A distributed search (keras-tuner's ``KERASTUNER_*`` variables, ``tfbig.tuning.distributed``)
runs the same command everywhere: the chief writes all of the above, the workers nothing in
OUTPUT (their trials train in temporary folders). The chief trains the best config into
OUTPUT/best itself once the search is over, as a one-process search does (the trials keep
no weights to copy).
"""

import contextlib
import os
import sys

from tfbig import config as config_lib
from tfbig import optional, run_folder
from tfbig.errors import TfbigError
from tfbig.tasks import resolve_config
from tfbig.tuning.search_space import parse_search_space, trial_values

TUNERS = ("grid", "random", "hyperband", "bayesian")
SETTINGS = "tune_config.json"
RESULTS = "results.csv"
PLOT = "scores.png"
BEST_CONFIG = "best_config.json"
BEST_RUN = "best"
# Distributed search: how long the chief waits on a silent worker (and a worker on the chief).
WORKER_TIMEOUT_S = 600
# What a search writes in OUTPUT, and so what --overwrite may delete (nothing else).
ENTRIES = (SETTINGS, "search", RESULTS, PLOT, BEST_CONFIG, BEST_RUN)
EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "configs", "tune_example.yaml")


def log(message):
    print(message, file=sys.stderr, flush=True)


def example_path():
    """The shipped example config, relative to the working directory when inside it."""
    relative = os.path.relpath(EXAMPLE)
    return EXAMPLE if relative.startswith("..") else relative


def no_search_space_error(config_file):
    where = f"{config_file} has" if config_file else "no --config file given, so the config has"
    return TfbigError(
        f"{where} no search_space: add one mapping config keys to the values to try, e.g. "
        f"'search_space: {{model.d_model: [64, 128], learning_rate: {{min: 1.0e-4, max: "
        f"1.0e-2, sampling: log}}}}'; an example: python -m tfbig.tune --config "
        f"{example_path()}")


def check_options(dimensions, tuner, folds, max_trials, config):
    """The tuner (default: grid when every dimension is finite, else random), checked."""
    if tuner is None:
        tuner = "grid" if all(d.finite for d in dimensions) else "random"
    if tuner not in TUNERS:
        raise TfbigError(f"--tuner {tuner}: expected one of {', '.join(TUNERS)}")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise TfbigError(f"--folds {folds}: expected an integer >= 1 (1: the usual validation "
                         f"split; K >= 2: K-fold cross-validation)")
    if max_trials is not None and max_trials < 1:
        raise TfbigError(f"--max-trials {max_trials}: expected an integer >= 1")
    if tuner == "hyperband" and any(d.key == "train.epochs" for d in dimensions):
        raise TfbigError("search_space train.epochs: Hyperband chooses each trial's epochs "
                         "itself, up to train.epochs (--epochs); remove it from search_space")
    if tuner == "bayesian":
        optional.check(["sklearn", "scipy"])
    if config.train.strategy == "multiworker":
        raise TfbigError("train.strategy=multiworker: a trial trains in one process; use "
                         "mirrored (or auto) for the GPUs of one machine, and a distributed "
                         "search (KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, "
                         "KERASTUNER_ORACLE_PORT; docs/distributed.md) to spread the trials "
                         "over machines")
    return tuner


def prepare_output(output, settings, overwrite):
    """Check that ``output`` is new or holds the same search (to resume it); with
    ``overwrite``, delete a previous search there."""
    path = os.path.join(output, SETTINGS)
    if os.path.exists(output) and not os.path.isdir(output):
        raise TfbigError(f"--output {output}: exists and is not a folder")
    if overwrite:
        run_folder.remove_entries(output, ENTRIES)
    elif os.path.exists(path):
        saved = run_folder.read_json(path)
        changes = [f"{name}: {saved.get(name)!r} → {settings[name]!r}"
                   for name in ("tuner", "folds") if saved.get(name) != settings[name]]
        changes += config_lib.differences(config_lib.from_dict(saved["config"], path),
                                          config_lib.from_dict(settings["config"]))
        if changes:
            raise TfbigError(f"--output {output} holds a search with other settings "
                             f"({'; '.join(changes[:3])}); rerun with the same settings to "
                             f"resume it (--max-trials may change), or pass --overwrite to "
                             f"start over")


def check_data(config, folds):
    """Read and split the data the way the trials will, before any training: a bad line,
    too few examples for ``folds`` folds or a label missing from a fold's training part
    stops here. Returns the task."""
    from tfbig.tasks import get_task
    from tfbig.tuning.folds import trial_splits

    task = get_task(config)
    task.check_augment()
    sizes = []
    for fold in range(folds):
        with trial_splits(fold, folds):
            splits, report = task.load_splits()
        sizes.append((len(splits["train"]), len(splits["validation"])))
    if report.skipped:
        log(str(report))  # "skipped N bad lines; first: path:line: why; …"
    if folds > 1:
        log(f"data: {folds} folds of the training data, validating on "
            f"{', '.join(str(v) for _, v in sizes)} examples; the test split is held out "
            f"for the best run")
    return task


def objective(config, task):
    """``(monitor, mode)``: train.monitor, else the task's."""
    if config.train.monitor:
        return config.train.monitor, config_lib.monitor_mode(config.train.monitor)
    return task.monitor


@contextlib.contextmanager
def keras_tuner_quiet(debug):
    """keras-tuner prints to stdout (and a traceback for every failed trial): send its
    messages to stderr, and its tracebacks only with --debug."""
    from keras_tuner.src import config as keras_tuner_config  # no public switch for this

    saved = keras_tuner_config.DEBUG
    keras_tuner_config.DEBUG = debug
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        keras_tuner_config.DEBUG = saved


def results_rows(tuner, plan, hyperband, workers=None):
    """The rows of ``results.csv``; ``workers`` (trial id → tuner id): the chief of a
    distributed search, whose records come from the trials' metrics."""
    from tfbig.tuning.results import trial_row
    from tfbig.tuning.tuner import HYPERBAND_KEYS, read_record, record_from_metrics

    rows = []
    for trial_id in sorted(tuner.oracle.trials):
        trial = tuner.oracle.trials[trial_id]
        values = trial_values(plan.dimensions, trial.hyperparameters.values)
        if hyperband:
            values.update({key: trial.hyperparameters.values.get(key, "")
                           for key in HYPERBAND_KEYS})
        if workers is None:
            record = read_record(tuner.get_trial_dir(trial_id))
        else:  # keras-tuner sends no trial message to the chief: the worker logged it
            record = record_from_metrics(trial, plan.folds)
            if trial.status == "FAILED":
                record["error"] = (f"failed on worker {workers.get(trial_id, '?')}; its "
                                   f"log says why")
        if trial.status == "FAILED" and not record.get("error") and trial.message:
            record["error"] = trial.message.strip().splitlines()[-1]
        rows.append(trial_row(trial_id, trial.status, values, record, plan.folds))
    return rows


def write_results(tuner, plan, output, hyperband, workers=None):
    from tfbig.tuning.results import plot_scores, write_results_csv

    rows = results_rows(tuner, plan, hyperband, workers)
    write_results_csv(rows, os.path.join(output, RESULTS))
    plot_scores(rows, plan.monitor, plan.mode, os.path.join(output, PLOT))
    return rows


def same_run(run_dir, config):
    """Whether ``run_dir`` holds a run of ``config`` (lengths it resolved from the data
    aside)."""
    path = os.path.join(run_dir, run_folder.CONFIG)
    if not os.path.exists(path):
        return False
    saved = config_lib.from_dict(run_folder.read_json(path), path)
    wanted = config_lib.replace(config, data={
        "max_source_length": config.data.max_source_length or saved.data.max_source_length,
        "max_target_length": config.data.max_target_length or saved.data.max_target_length})
    return saved == wanted


def train_best(config, run_dir):
    """Train ``config`` into ``run_dir`` on the usual splits (resuming an interrupted run of
    it; reusing a finished one)."""
    from tfbig.runs import fit

    state = run_folder.run_state(run_dir)
    same = same_run(run_dir, config)
    if state == "finished" and same:
        log(f"best run: {run_dir} is already trained with the best config")
        return run_folder.read_json(os.path.join(run_dir, run_folder.METRICS))
    log(f"best run: training the best config on the usual splits into {run_dir}")
    import keras

    keras.backend.clear_session()
    return fit.train(config, run_dir, overwrite=state != "new" and not same)


def tune(overrides, output, *, tuner=None, folds=1, max_trials=None, overwrite=False,
         debug=False, config_file=None, worker_timeout=WORKER_TIMEOUT_S):
    """Search the config's ``search_space`` with keras-tuner, then train the best config.

    Under keras-tuner's distributed variables (``tfbig.tuning.distributed``) the chief
    serves the search and writes ``output``; a worker trains trials and writes nothing
    there.

    Args:
        overrides: the flat config overrides of the search (config file, flags, --set),
            as ``tfbig.config.overrides_from_flags`` returns them.
        output: the search folder (see the module docstring); rerun to resume.
        tuner: grid | random | hyperband | bayesian; None = grid when every dimension is a
            list or a range with a step, else random.
        folds: 1 = each trial validates on the usual validation split; K >= 2 = each trial
            trains K times on K-fold splits of the training data, scored by the mean.
        max_trials: the most trials (default: the whole grid; 10 for random and bayesian;
            what Hyperband's brackets need for hyperband).
        overwrite: delete a previous search in ``output`` and start over.
        debug: print keras-tuner's traceback of each failed trial.
        config_file: the --config path, for messages.
        worker_timeout: a distributed search's limit, in seconds, on a worker's (or the
            chief's) silence before the search stops with an error.

    Returns:
        a dict: ``monitor``, ``mode``, ``rows`` (results.csv), ``best`` (its row),
        ``best_config`` and ``best_run`` (paths) and ``summary`` (the best run's metrics);
        on a worker, ``worker`` (its id), ``trials`` (those it trained) and ``trained``
        (them in words).
    """
    config = resolve_config(overrides)
    if not config.search_space:
        raise no_search_space_error(config_file)
    dimensions = parse_search_space(config.search_space, overrides)
    tuner_name = check_options(dimensions, tuner, folds, max_trials, config)
    if not worker_timeout > 0:
        raise TfbigError(f"--worker-timeout {worker_timeout:g}: expected seconds > 0")
    # keras-tuner (and with it TensorFlow, seconds) loads once the search space is checked
    from tfbig.tuning import distributed

    role = distributed.role()
    settings = {"config": config.to_dict(), "tuner": tuner_name, "folds": folds,
                "max_trials": max_trials}
    if role != "worker":  # a worker writes nothing in the search folder
        prepare_output(output, settings, overwrite)
    task = check_data(config, folds)
    monitor, mode = objective(config, task)

    from tfbig.tuning.tuner import Plan, make_tuner

    plan = Plan(overrides=dict(overrides), dimensions=tuple(dimensions), folds=folds,
                monitor=monitor, mode=mode)
    hyperband = tuner_name == "hyperband"

    def make_searcher(directory, on_trial_done=None):
        return make_tuner(tuner_name, plan, directory, max_trials=max_trials,
                          seed=config.train.seed + 1,  # keras-tuner draws one for seed=0
                          max_epochs=config.train.epochs, on_trial_done=on_trial_done,
                          worker_timeout=worker_timeout if role else None)

    if role == "worker":
        with keras_tuner_quiet(debug):
            return distributed.run_worker(make_searcher, worker_timeout)
    os.makedirs(output, exist_ok=True)
    run_folder.write_json(os.path.join(output, SETTINGS),
                          {**settings, "objective": {"name": monitor, "direction": mode}})
    space = "; ".join(f"{d.key}: {list(d.values) if d.kind == 'choice' else _range(d)}"
                      for d in dimensions)
    log(f"search: {tuner_name} over {space}; {folds} fold{'s' if folds > 1 else ''} a trial; "
        f"objective {monitor} ({mode}); state in {os.path.join(output, 'search')} (the same "
        f"command resumes it)")
    with keras_tuner_quiet(debug):
        searcher = make_searcher(
            output, on_trial_done=lambda t: write_results(t, plan, output, hyperband))
        try:
            searcher.search()
        except distributed.LostContact:  # the chief: write what the search has so far
            write_results(searcher, plan, output, hyperband, searcher.workers)
            raise
    rows = write_results(searcher, plan, output, hyperband,
                         getattr(searcher, "workers", None))  # the chief's: trial → worker

    completed = [row for row in rows if row["status"] == "COMPLETED"]
    if not completed:
        errors = [row["error"] for row in rows if row["error"]]
        raise TfbigError(f"no trial of the search finished ({len(rows)} failed"
                         f"{'; the first: ' + errors[0] if errors else ''}); see "
                         f"{os.path.join(output, RESULTS)}")
    best_trial = searcher.oracle.get_best_trials(1)[0]
    best = next(row for row in rows if row["trial"] == best_trial.trial_id)
    best_config = resolve_config({**overrides, **trial_values(
        dimensions, best_trial.hyperparameters.values), "search_space": {}})
    best_config_path = os.path.join(output, BEST_CONFIG)
    best_config.save(best_config_path)
    best_run = os.path.join(output, BEST_RUN)
    summary = train_best(best_config, best_run)
    return {"monitor": monitor, "mode": mode, "rows": rows, "best": best,
            "best_config": best_config_path, "best_run": best_run, "summary": summary}


def _range(d):
    step = f", step {d.step}" if d.step is not None else ""
    sampling = f", {d.sampling}" if d.sampling != "linear" else ""
    return f"{d.min}..{d.max}{step}{sampling}"
