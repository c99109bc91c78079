"""``python -m tfbig --version``: print the version; ``python -m tfbig`` lists the commands."""

import argparse
import sys

from tfbig import __version__

COMMANDS = {
    "train": "train a model from scratch (default: the shipped sample data)",
    "finetune": "continue from a tfbig run or a Hugging Face BERT checkpoint",
    "evaluate": "score a run on a data file",
    "predict": "one output line per input line",
    "tune": "keras-tuner search over a config's search_space",
    "export": "self-contained SavedModel with the tokenizer inside",
}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tfbig",
        description="tfbig commands: "
        + "; ".join(f"python -m tfbig.{name}: {text}" for name, text in COMMANDS.items()),
    )
    parser.add_argument("--version", action="version", version=f"tfbig {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
