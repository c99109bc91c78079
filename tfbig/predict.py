"""``python -m tfbig.predict --run DIR``: one output line per input line.

Reads ``--input FILE`` (default: stdin) and writes the predictions to stdout, in order. A
blank input line gets a blank output line (a paragraph break stays one), except for ``lm``
runs, where an empty prompt asks for a continuation of nothing.
With ``--explain`` (classify runs) each line is ``label<TAB>`` and the word pieces with the
largest integrated-gradients attributions to it, e.g. ``positive<TAB>great +0.41, love +0.22``.
"""

import sys

from tfbig.cli import ArgumentParser, add_common_flags, run


def build_parser():
    parser = ArgumentParser(prog="python -m tfbig.predict",
                            description="Predict one output line per input line with a "
                                        "trained run.")
    parser.add_argument("--run", required=True, metavar="DIR", help="a finished run folder")
    parser.add_argument("--input", metavar="FILE", help="input lines (default: stdin)")
    parser.add_argument("--decode", choices=("greedy", "beam", "sample"),
                        help="decoding strategy for text outputs (translate, lm); default: "
                             "the run's final decoding for translate (beam search on natural "
                             "language, greedy on symbolic data), greedy for lm")
    parser.add_argument("--beam-size", type=int, metavar="N",
                        help="beams kept with --decode beam (default: the run's, 4)")
    parser.add_argument("--max-length", type=int, metavar="N",
                        help="most tokens to generate (default: the run's target length)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0, help="sample from the k best (0 = all)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    parser.add_argument("--seed", type=int, help="seed for sampling")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--explain", action="store_true",
                        help="classify runs: print each label with the word pieces behind it "
                             "(integrated gradients), 'label<TAB>token +0.41, token +0.22, ...'")
    add_common_flags(parser)
    return parser


def read_lines(path):
    """Input lines without their newlines; a missing or undecodable file is a clear error."""
    from tfbig.errors import TfbigError

    if path is None:
        return [line.rstrip("\r\n") for line in sys.stdin]
    try:
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\r\n") for line in f]
    except FileNotFoundError:
        raise TfbigError(f"--input {path}: no such file") from None
    except UnicodeDecodeError as error:
        raise TfbigError(f"--input {path}: not valid UTF-8 ({error.reason} at byte "
                         f"{error.start})") from None


def main(argv):
    args = build_parser().parse_args(argv)
    from tfbig.errors import TfbigError
    from tfbig.run_folder import require_run

    config = require_run(args.run)
    if args.explain:
        from tfbig.tasks import AVAILABLE, task_class

        if not task_class(config.get("task")).explainable:
            explainable = [name for name in AVAILABLE if task_class(name).explainable]
            raise TfbigError(f"--explain works for {' and '.join(explainable)} runs only; "
                             f"{args.run} is a {config.get('task')!r} run (drop --explain)")
    if args.max_length is not None and args.max_length < 1:
        raise TfbigError(f"--max-length must be >= 1, received {args.max_length}")
    if args.beam_size is not None and args.beam_size < 1:
        raise TfbigError(f"--beam-size must be >= 1, received {args.beam_size}")
    if args.batch_size < 1:
        raise TfbigError(f"--batch-size must be >= 1, received {args.batch_size}")
    lines = read_lines(args.input)

    from tfbig.inference import load_run_model, run_task

    task = run_task(args.run)
    task.check_inputs(lines)  # e.g. a missing image path, before TensorFlow loads (seconds)
    model = load_run_model(task, args.run)
    if args.explain:
        from tfbig.evaluation.attributions import explain_texts, format_explanation
        from tfbig.tasks.blank_lines import answer_non_blank

        outputs = answer_non_blank(lines, lambda asked: [
            format_explanation(item) for item in explain_texts(task, model, asked)])
        sys.stdout.write("".join(f"{output}\n" for output in outputs))
        return
    method, sampling = args.decode or "greedy", {}
    if args.decode is None and hasattr(task, "final_decoding"):
        method, sampling = task.final_decoding()  # what the run's test metrics used
    if method == "sample":
        sampling = dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                        seed=args.seed)
    elif method == "beam":
        sampling = {**sampling, "beam_size": args.beam_size or sampling.get("beam_size", 4)}
    outputs = task.predict_texts(model, lines, method=method, max_length=args.max_length,
                                 batch_size=args.batch_size, **sampling)
    sys.stdout.write("".join(f"{output}\n" for output in outputs))


if __name__ == "__main__":
    sys.exit(run(main))
