"""``python -m tfbig.tune``: a keras-tuner search over the config's ``search_space``.

Every trial trains through ``tfbig.train``'s own path (any task, any model); ``--folds K``
scores a trial by K-fold cross-validation on the training data. The search folder holds
``results.csv``, ``scores.png``, ``best_config.json`` (``python -m tfbig.train --config``
accepts it) and ``best/``, a run folder of the best config. Rerun the same command to
resume an interrupted search. Example (a config with a search_space):

    python -m tfbig.tune --config tfbig/configs/tune_example.yaml --output runs/tune

Distributed (docs/distributed.md): the same command on every process, with keras-tuner's
``KERASTUNER_TUNER_ID`` (``chief``, ``tuner0``, ``tuner1``, …), ``KERASTUNER_ORACLE_IP`` and
``KERASTUNER_ORACLE_PORT``; the chief writes the search folder, the workers train the trials.
"""

import os
import sys
import time

from tfbig.cli import ArgumentParser, add_common_flags, add_train_flags, run
from tfbig.config import FLAG_FIELDS, overrides_from_flags
from tfbig.tasks import resolve_config
# TensorFlow loads only when a search starts.
from tfbig.tuning.search import TUNERS, WORKER_TIMEOUT_S, tune


def build_parser():
    parser = ArgumentParser(
        prog="python -m tfbig.tune",
        description="keras-tuner search over the config's search_space (a mapping of config "
                    "keys to a list of values, {min, max, step} or {min, max, sampling: "
                    "log}); trains the best config into OUTPUT/best.")
    add_train_flags(parser)
    parser.add_argument("--tuner", choices=TUNERS,
                        help="search algorithm (default: grid when every key lists values "
                             "or has a step, else random)")
    parser.add_argument("--folds", type=int, default=1, metavar="K",
                        help="K >= 2: score each trial by K-fold cross-validation on the "
                             "training data (default 1: the usual validation split)")
    parser.add_argument("--max-trials", type=int, metavar="N",
                        help="at most N trials (default: the whole grid; 10 for random and "
                             "bayesian)")
    parser.add_argument("--worker-timeout", type=float, default=WORKER_TIMEOUT_S,
                        metavar="SECONDS",
                        help="distributed search: stop with an error when a worker (or the "
                             "chief) has sent nothing for SECONDS (default "
                             f"{WORKER_TIMEOUT_S})")
    add_common_flags(parser)
    return parser


def overrides_from_args(args):
    """The flat config overrides of the parsed flags (file, flags, --set)."""
    flags = {name: getattr(args, name, None) for name in FLAG_FIELDS}
    assignments = list(args.set) + (["data.skip_bad_lines=true"] if args.skip_bad_lines
                                    else [])
    return overrides_from_flags(args.config, flags, assignments)


def main(argv):
    args = build_parser().parse_args(argv)
    overrides = overrides_from_args(args)
    config = resolve_config(overrides, source="--set" if args.set else "config")
    output = args.output or os.path.join(
        "runs", f"tune-{config.task}-{time.strftime('%Y%m%d-%H%M%S')}")
    result = tune(overrides, output, tuner=args.tuner, folds=args.folds,
                  max_trials=args.max_trials, overwrite=args.overwrite, debug=args.debug,
                  config_file=args.config, worker_timeout=args.worker_timeout)
    if "worker" in result:
        print(f"worker {result['worker']}: trained {result['trained']}; the chief writes the "
              f"results")
    else:
        print_summary(output, result)


def print_summary(output, result):
    """The result, on stdout: the best trial, where its config and run are, how to use
    them."""
    best, monitor = result["best"], result["monitor"]
    completed = sum(row["status"] == "COMPLETED" for row in result["rows"])
    trials = len(result["rows"])
    print(f"search folder: {output} ({trials} trial{'s' if trials > 1 else ''}, {completed} "
          f"completed; results.csv, scores.png)")
    score = f"{best['mean']:.4f}" + (f" ± {best['std']:.4f}" if best.get("fold_1", "") != ""
                                      else "")
    skip = {"trial", "status", "mean", "std", "seconds", "error"}
    values = ", ".join(f"{key}={value}" for key, value in best.items()
                       if key not in skip and not key.startswith(("fold_", "tuner/")))
    print(f"best trial {best['trial']}: {values}: {monitor} {score}")
    summary = result["summary"]
    for split in ("validation", "test"):
        if split in summary:
            shown = ", ".join(f"{key} {value:.4f}" for key, value in summary[split].items()
                              if isinstance(value, float))
            print(f"best run {split}: {shown}")
    print(f"best config: {result['best_config']}")
    print(f"best run: {result['best_run']}")
    print(f"train again: python -m tfbig.train --config {result['best_config']}")
    print(f"predict:     python -m tfbig.predict --run {result['best_run']} --input FILE")


if __name__ == "__main__":
    sys.exit(run(main))
