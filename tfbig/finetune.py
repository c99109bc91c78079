"""``python -m tfbig.finetune``: continue from a pretrained model on a (new) task.

    python -m tfbig.finetune --from-hf path/to/bert --task classify --data reviews.tsv
    python -m tfbig.finetune --from runs/mlm --task classify --method lora --lora-rank 8

Takes every flag of ``tfbig.train`` plus the start (``--from RUN_DIR`` or ``--from-hf DIR``)
and the method: ``full`` (everything trains), ``freeze`` (the new head only), ``gradual``
(one more block per epoch, top first), ``lora`` (low-rank adapters + the head).
``--layer-lr-decay D`` adds discriminative learning rates (the top block at D × the
head's rate, each lower block D times less) to any method that trains the backbone.
"""

import os
import sys
import time

from tfbig.cli import ArgumentParser, add_common_flags, add_train_flags, config_from_args, run
from tfbig.config_fields import FINETUNE_METHODS as METHODS



def build_parser():
    parser = ArgumentParser(
        prog="python -m tfbig.finetune",
        description="Fine-tune a pretrained model: a tfbig run (--from) or a Hugging Face "
                    "BERT folder (--from-hf) on a task.")
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--from", dest="from_run", metavar="RUN_DIR",
                       help="a finished tfbig run folder to start from")
    start.add_argument("--from-hf", metavar="DIR",
                       help="a Hugging Face BERT folder (config.json, model.safetensors, "
                            "vocab.txt)")
    parser.add_argument("--method", choices=METHODS, default="full",
                        help="what trains (default: full)")
    parser.add_argument("--lora-rank", type=int, default=8, metavar="R",
                        help="rank of the LoRA adapters (with --method lora)")
    parser.add_argument("--layer-lr-decay", type=float, metavar="D",
                        help="discriminative rates: the top block learns at D × the head's "
                             "rate, each block below D times less, the embeddings least "
                             "(e.g. 0.8; default 1.0 = one rate; = --set "
                             "train.layer_lr_decay=D)")
    add_train_flags(parser)
    add_common_flags(parser)
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    if args.layer_lr_decay is not None:  # a flag for a config field: --set still wins
        args.set = [f"train.layer_lr_decay={args.layer_lr_decay}", *args.set]
    from tfbig.runs.finetune import PretrainedStart

    start = (PretrainedStart("run", args.from_run, args.method, args.lora_rank)
             if args.from_run else
             PretrainedStart("hf", args.from_hf, args.method, args.lora_rank))
    config = start.check(config_from_args(args))
    run_dir = args.output or os.path.join(
        "runs", f"{config.task}-finetune-{time.strftime('%Y%m%d-%H%M%S')}")

    from tfbig.train import print_summary
    from tfbig.runs.fit import train

    summary = train(config, run_dir, overwrite=args.overwrite, start=start, resume_hint=True)
    print_summary(run_dir, summary)


if __name__ == "__main__":
    sys.exit(run(main))
