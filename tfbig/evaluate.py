"""``python -m tfbig.evaluate --run DIR [--data PATH]``: score a run on a data file.

Prints a compact table of metrics (stdout) and writes ``DIR/eval/metrics.json``,
``predictions.tsv``, ``worst_examples.tsv`` and plots (for classify runs also
``explanations.html``: token attributions and attention rollout of the first examples).
Without ``--data`` it scores the run's own held-out test split, so the numbers match the
run's ``metrics.json``.
"""

import sys

from tfbig.cli import ArgumentParser, add_common_flags, run


def build_parser():
    parser = ArgumentParser(prog="python -m tfbig.evaluate",
                            description="Score a trained run on a data file.")
    parser.add_argument("--run", required=True, metavar="DIR", help="a finished run folder")
    parser.add_argument("--data", metavar="PATH",
                        help="data in the task's format (default: the run's test split)")
    parser.add_argument("--output", metavar="DIR", help="where to write (default: DIR/eval)")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="skip and count malformed data lines instead of stopping")
    add_common_flags(parser)
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    from tfbig.run_folder import require_run

    require_run(args.run)
    from tfbig.evaluation.report import evaluate_run

    metrics, output_dir = evaluate_run(args.run, args.data, output_dir=args.output,
                                       skip_bad_lines=args.skip_bad_lines)
    scalars = {key: value for key, value in metrics.items()
               if isinstance(value, (int, float, str))}  # the rest is in metrics.json
    width = max(len(key) for key in scalars)
    for key, value in scalars.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    print(f"{'written to':<{width}}  {output_dir}")


if __name__ == "__main__":
    sys.exit(run(main))
