"""``python -m tfbig.train``: train a model from scratch into a run folder.

With no flags it trains the default config (a Transformer that rewrites dates written in
words as ISO dates) on the sample data shipped inside the package (``tfbig/sample_data``, a
copy of the repository's ``data/``).
"""

import os
import sys
import time

from tfbig.cli import ArgumentParser, add_common_flags, add_train_flags, config_from_args, run


def build_parser():
    parser = ArgumentParser(
        prog="python -m tfbig.train",
        description="Train a model from scratch. With no flags: the default Transformer on "
                    "the shipped sample data (dates in words → ISO dates).")
    add_train_flags(parser)
    add_common_flags(parser)
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    run_dir = args.output or os.path.join(
        "runs", f"{config.task}-{time.strftime('%Y%m%d-%H%M%S')}")

    from tfbig.runs.fit import train

    summary = train(config, run_dir, overwrite=args.overwrite, resume_hint=True)
    print_summary(run_dir, summary)


def print_summary(run_dir, summary):
    """The result, on stdout: where the run is, its final metrics, how to use it."""
    if "worker" in summary:  # a non-chief worker of a multi-worker run: no metrics of its own
        print(f"worker {summary['worker']}: trained for {summary['train_seconds']} s; the chief "
              f"(worker 0) writes the run folder, its metrics and plots")
        return
    print(f"run folder: {run_dir}")
    for split in ("validation", "test"):
        if split in summary:
            # Scalars only: per-class scores and matrices are in metrics.json.
            shown = ", ".join(f"{key} {value:.4f}" if isinstance(value, float) else
                              f"{key} {value}" for key, value in summary[split].items()
                              if isinstance(value, (int, float)))
            print(f"{split}: {shown}")
    print(f"training: {summary['train_seconds']} s, "
          f"{summary['train_tokens_per_second']} tokens/s, "
          f"{summary['parameters']:,} parameters ({summary['trainable_parameters']:,} "
          f"trainable)")
    print(f"predict:  python -m tfbig.predict --run {run_dir} --input FILE")
    print(f"evaluate: python -m tfbig.evaluate --run {run_dir} --data FILE")


if __name__ == "__main__":
    sys.exit(run(main))
