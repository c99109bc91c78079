"""``python -m tfbig.export --run DIR --output DIR``: a self-contained SavedModel.

Raw strings in (encoded image bytes for an image run, WAV file bytes for an audio run),
strings/labels out, the tokenizer inside the graph; ``export.json`` and ``README.md`` beside
it say the signature's input and outputs. The folder appears complete or not at all. Prints
the export folder on stdout.
"""

import sys

from tfbig.cli import ArgumentParser, add_common_flags, run


def build_parser():
    parser = ArgumentParser(prog="python -m tfbig.export",
                            description="Export a trained run as a TensorFlow SavedModel "
                                        "whose serving_default signature takes raw inputs.")
    parser.add_argument("--run", required=True, metavar="DIR", help="a finished run folder")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="the export folder (must be new or empty, see --overwrite)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier export in --output")
    parser.add_argument("--max-length", type=int, metavar="N",
                        help="most tokens to generate, translate and lm runs (default: the "
                             "run's length, as predict)")
    add_common_flags(parser)
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    from tfbig.errors import TfbigError
    from tfbig.exporting import export_run

    if args.max_length is not None and args.max_length < 1:
        raise TfbigError(f"--max-length must be >= 1, received {args.max_length}")
    export_run(args.run, args.output, overwrite=args.overwrite, max_length=args.max_length)
    print(args.output)


if __name__ == "__main__":
    sys.exit(run(main))
