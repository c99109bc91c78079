"""``python -m tfbig.prepare``: tokenise a corpus once into TFRecord shards + tokenizer
assets, a folder that ``train``/``tune`` accept as ``--data`` (no tokenising there).

The data config resolves as ``train``'s does (``--config``, ``--set``): the tokenizer,
vocabulary, lower-casing and lengths are fixed here; the train command takes them from the
folder (``tfbig.runs.prepare``, ``tfbig.tasks.prepared``).
"""

import sys

from tfbig.cli import ArgumentParser, add_common_flags, config_from_args, run
from tfbig.errors import TfbigError
from tfbig.tasks import AVAILABLE as TASKS


def build_parser():
    parser = ArgumentParser(
        prog="python -m tfbig.prepare",
        description="Tokenise a (large) corpus once: TFRecord shards of token ids, the "
                    "tokenizer assets and the held-out splits, a folder that "
                    "`python -m tfbig.train --data DIR` trains from without tokenising.")
    parser.add_argument("--task", choices=TASKS, help="the job (default: translate; "
                                                       "prepare supports the text tasks: "
                                                       "translate, classify, lm, mlm)")
    parser.add_argument("--data", metavar="PATH", required=True,
                        help="the corpus: a file, a folder of shards or a glob, plain or .gz "
                             "(TSV, CSV, text or JSONL)")
    parser.add_argument("--val-data", metavar="PATH",
                        help="validation data (default: a deterministic split of --data)")
    parser.add_argument("--output", metavar="DIR", required=True,
                        help="the folder to create (written atomically)")
    parser.add_argument("--config", metavar="FILE", help="YAML or JSON config file")
    parser.add_argument("--seed", type=int, metavar="N",
                        help="seed (a streamed corpus's vocabulary sample)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any config field, e.g. --set data.vocab_size=16000 (repeatable)")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="skip and count malformed data lines instead of stopping")
    parser.add_argument("--max-bad-lines", type=int, metavar="N",
                        help="streamed data: skip and count up to N malformed lines")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier tfbig.prepare output in --output")
    add_common_flags(parser)
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    from tfbig.tasks import task_class
    from tfbig.tasks.prepared import preparable_tasks

    if not task_class(config.task).preparable:  # before TensorFlow is imported
        raise TfbigError(f"--task {config.task}: tfbig.prepare supports "
                         f"{', '.join(preparable_tasks())} only; train the {config.task} task "
                         f"from its raw data")

    from tfbig.runs.prepare import prepare

    info = prepare(config, args.output, overwrite=args.overwrite)
    counts = info["counts"]
    print(f"prepared: {args.output}: {counts['train']:,} training examples in "
          f"{len(info['shards'])} shards, {counts['validation']:,} validation, "
          f"{counts['test']:,} test")
    task = "" if config.task == "translate" else f"--task {config.task} "
    print(f"train:    python -m tfbig.train {task}--data {args.output}")


if __name__ == "__main__":
    sys.exit(run(main))
