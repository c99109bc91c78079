"""What every ``python -m tfbig.<command>`` shares: the error contract and the train flags.

- Bad usage or bad input: one line ``error: ...`` on stderr, exit status 2, no traceback
  (``--debug`` shows it). Ctrl-C: exit 130 with a hint on how to resume.
- No TensorFlow import here: ``--help`` must answer in well under 2 seconds.
- A quiet start (:mod:`tfbig.quiet_start`): none of TensorFlow's C++ start-up lines;
  ``--verbose`` shows them all.
"""

import argparse
import sys

from tfbig.config import MODELS, PRECISIONS, STRATEGIES
from tfbig.errors import TfbigError
from tfbig.quiet_start import quiet_tensorflow
from tfbig.tasks import AVAILABLE as TASKS


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but usage errors follow the contract: ``error: ...`` and exit 2."""

    def error(self, message):
        raise TfbigError(f"{self.prog}: {message} (see --help)")


def add_train_flags(parser):
    """The flags of ``tfbig.train``, shared with ``finetune`` and ``tune``."""
    parser.add_argument("--config", metavar="FILE", help="YAML or JSON config file")
    parser.add_argument("--task", choices=TASKS, help="the job (default: translate)")
    parser.add_argument("--model", choices=MODELS, help="architecture (default: the task's)")
    parser.add_argument("--data", metavar="PATH",
                        help="training data file/folder (default: the task's shipped sample)")
    parser.add_argument("--val-data", metavar="PATH",
                        help="validation data (default: a deterministic split of --data)")
    parser.add_argument("--output", metavar="DIR",
                        help="run folder (default: runs/<task>-<time>); rerun to resume")
    parser.add_argument("--epochs", type=int, metavar="N")
    parser.add_argument("--steps-per-epoch", type=int, metavar="N",
                        help="batches per epoch (default: the whole training split)")
    parser.add_argument("--batch-size", type=int, metavar="N", help="global batch size")
    parser.add_argument("--learning-rate", type=float, metavar="X", help="peak learning rate")
    parser.add_argument("--time-budget", type=float, metavar="MINUTES",
                        help="train for this many minutes: the steps that fit are planned "
                             "from the measured step time, the run stops on time")
    parser.add_argument("--strategy", choices=STRATEGIES, help="tf.distribute strategy")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="float32 or mixed precision (default: auto, mixed on a GPU or "
                             "TPU that computes it natively)")
    parser.add_argument("--seed", type=int, metavar="N", help="seed of everything random")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config field, e.g. --set model.d_model=256 "
                             "(repeatable)")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="skip and count malformed data lines instead of stopping")
    parser.add_argument("--max-bad-lines", type=int, metavar="N",
                        help="streamed data: skip and count up to N malformed lines, stop "
                             "at the next (default 0: the first one stops the run)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished or different run in --output")


def add_common_flags(parser):
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log lines (hidden by default)")


def config_from_args(args):
    """The resolved RunConfig of parsed train flags."""
    from tfbig.tasks import config_from_flags

    flags = {name: getattr(args, name, None) for name in (
        "task", "model", "data", "val_data", "epochs", "steps_per_epoch", "batch_size",
        "learning_rate", "strategy", "precision", "seed", "time_budget")}
    assignments = list(args.set)
    if getattr(args, "skip_bad_lines", False):
        assignments.append("data.skip_bad_lines=true")
    if getattr(args, "max_bad_lines", None) is not None:
        assignments.append(f"data.max_bad_lines={args.max_bad_lines}")
    return config_from_flags(args.config, flags, assignments)


def run(main, argv=None):
    """Call ``main(argv)`` and turn its failures into the CLI contract; returns the status."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    quiet_tensorflow(verbose="--verbose" in argv)
    try:
        return main(argv) or 0
    except TfbigError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume from the last finished "
              "epoch", file=sys.stderr)
        return 130
    except Exception as error:  # an unexpected failure: still one line, unless --debug
        if debug:
            raise
        print(f"error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
              f" (rerun with --debug for the traceback, --verbose for TensorFlow's log)",
              file=sys.stderr)
        return 1
