"""Choosing an architecture, measured: Transformer vs RNN vs CNN on the same task and data.

    python -m benchmarks.compare_architectures [--only classify translate audio]
        [--translate-data ../shared/data/multi30k-en-fr] [--minutes 3] [--seed 0]
        [--output docs/images] [--quick]

Three comparisons, each run one model after another in this process (never at the same
time), through ``tfbig.runs.fit.train`` as ``python -m tfbig.train`` would run them:

* **classify** — ``data/reviews.tsv`` (the shipped 3-class review sample, its default
  80/10/10 split): BERT-style Transformer encoder vs LSTM vs 1-D CNN, ``EPOCHS`` epochs
  each at the learning rate that suits it (``benchmarks/task_results.py``'s).
* **translate** — Multi30k en→fr (``train.tsv``; the official ``test_2016_flickr.tsv`` for
  the score) when ``--translate-data`` holds it, else the shipped dates sample: the
  encoder-decoder Transformer vs the LSTM encoder-decoder with attention, each trained for
  the same ``--minutes`` of wall time (``train.time_budget``): on a fixed budget the
  question is which one learns more per second. Scored by greedy decoding for both.
* **audio** — the shipped keyword sample ``data/audio/``: the spectrogram CNN vs the
  spectrogram-patch Transformer, the task's default epochs for each.

**Similar parameter counts.** The first model of each comparison is the reference at a
fixed size; every other model's width (``model.d_model``: LSTM units and embedding size,
CNN filters, Transformer width) is chosen from ``WIDTHS`` as the one whose built model has
the parameter count nearest the reference's (the models are built with the data's real
vocabulary before training; the counts are in the table).

Written: ``architectures.csv``, ``architectures.md`` (the table) and ``architectures.png``
(quality, training time and inference speed side by side) in ``--output``. Columns:

    task, model, parameters, metric (test split), value, training seconds (the fit itself,
    ``metrics.json``'s train_seconds), inference examples/s (``run_predictor`` on the test
    inputs, batch 64, after one warm-up call; translate: greedy decoding)
"""

import argparse
import csv
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = 8  # classify: every model the same number of passes
WIDTHS = tuple(range(16, 513, 8))  # d_model candidates when matching a parameter count

# comparison → (the models, the first the reference; per-model overrides; the score)
COMPARISONS = {
    "classify": {
        "models": ("bert", "rnn", "cnn"),
        "common": {"model.preset": "small", "train.epochs": EPOCHS, "train.batch_size": 32,
                   "train.schedule": "cosine", "train.warmup_steps": 50},
        "per_model": {"bert": {"train.learning_rate": 1e-3, "train.schedule": "constant"},
                      "rnn": {"train.learning_rate": 1e-2},
                      "cnn": {"train.learning_rate": 3e-3}},
        "metric": "accuracy",
    },
    "translate": {
        "models": ("transformer", "rnn"),
        "common": {"model.preset": "small", "train.final_decode": "greedy"},
        "per_model": {"transformer": {}, "rnn": {"train.learning_rate": 3e-3}},
        "metric": "bleu",
    },
    "audio": {
        "models": ("cnn", "transformer"),
        "common": {},
        "per_model": {"cnn": {}, "transformer": {}},
        "metric": "accuracy",
    },
}
QUICK = {"train.epochs": 1, "train.steps_per_epoch": 3, "train.time_budget": 0.0}


def log(message):
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------- the comparisons
def translate_files(folder, quick):
    """``(train file, validation file, held-out test pairs)``: Multi30k when ``folder``
    holds it, else the dates sample with its own splits (``None``: the run's test metrics
    are used)."""
    from tfbig.data.sources import read_pairs

    files = [os.path.join(folder or "", name)
             for name in ("train.tsv", "val.tsv", "test_2016_flickr.tsv")]
    if folder and all(os.path.isfile(path) for path in files):
        pairs = list(read_pairs(files[2]))
        return files[0], files[1], pairs[:50] if quick else pairs
    log(f"translate: no Multi30k in {folder!r}: the shipped dates sample instead")
    return os.path.join(REPO, "data", "dates.tsv"), "", None


def overrides_for(name, model, args, translate_files):
    comparison = COMPARISONS[name]
    overrides = {"task": name, "model.name": model, "train.seed": args.seed,
                 "train.jit_compile": False, **comparison["common"],
                 **comparison["per_model"][model]}
    if name == "translate":
        overrides["data.path"], overrides["data.val_path"], test = translate_files
        if test:
            overrides["data.test_split"] = 0.01  # the score comes from the official test set
        if args.minutes:
            overrides["train.time_budget"] = args.minutes
    if args.quick:
        overrides.update(QUICK)
    return overrides


def built_parameters(config, widths):
    """``{width: parameters}`` of the model ``config`` describes at each ``model.d_model``
    in ``widths``, built with the vocabulary learnt from the data (nothing is trained)."""
    import keras

    from tfbig import config as config_lib
    from tfbig.tasks import get_task

    task = get_task(config)
    splits, _ = task.load_splits()
    config, _ = config_lib.with_data_defaults(task.config,
                                              task.data_defaults(splits["train"]))
    task = get_task(config)
    task.learn_assets(splits["train"])
    task.resolve_lengths(splits["train"])
    counts = {}
    for width in widths:
        heads = task.config.model.num_heads
        task.config = config_lib.replace(task.config, model={
            "d_model": width, "num_heads": heads if width % heads == 0 else 1})
        counts[width] = task.build_model().count_params()
        keras.backend.clear_session()
    return counts


def matched_width(config, target):
    """The ``WIDTHS`` entry whose model has the parameter count nearest ``target``."""
    counts = built_parameters(config, WIDTHS)
    return min(counts, key=lambda width: abs(counts[width] - target))


def inference_speed(run_dir, inputs):
    """Examples per second of the finished run's predictor on ``inputs`` (after a warm-up
    call on a few of them, so tracing is not counted), and its outputs."""
    from tfbig.inference import run_predictor

    predict = run_predictor(run_dir)
    predict(inputs[:8])
    started = time.perf_counter()
    outputs = predict(inputs)
    return len(inputs) / (time.perf_counter() - started), outputs


def test_inputs(name, translate_test, quick):
    """What the inference timing feeds each task: test sentences, reviews or WAV paths."""
    if name == "translate" and translate_test:
        return [source for source, _ in translate_test]
    if name == "translate":
        from tfbig.data.sources import read_pairs

        return [s for s, _ in read_pairs(os.path.join(REPO, "data", "dates.tsv"))][:500]
    if name == "classify":
        from tfbig.data.sources import read_labelled

        return [text for text, _ in read_labelled(os.path.join(REPO, "data", "reviews.tsv"))][:500]
    folder = os.path.join(REPO, "data", "audio")
    paths = sorted(os.path.join(root, file) for root, _, files in os.walk(folder)
                   for file in files if file.endswith(".wav"))
    return paths[:16] if quick else paths


def compare(name, args, folder):
    """Train every model of comparison ``name``; return its table rows."""
    from tfbig.runs.fit import train
    from tfbig.scoring.text import corpus_bleu
    from tfbig.tasks import resolve_config

    comparison = COMPARISONS[name]
    files = (translate_files(args.translate_data, args.quick) if name == "translate"
             else (None, None, None))
    translate_test = files[2]
    inputs = test_inputs(name, translate_test, args.quick)
    rows, reference = [], None
    for model in comparison["models"]:
        overrides = overrides_for(name, model, args, files)
        config = resolve_config(overrides)
        if reference is not None:
            width = matched_width(config, reference)
            overrides["model.d_model"] = width
            config = resolve_config(overrides)
            log(f"== {name} / {model}: model.d_model={width}, the width nearest "
                f"{reference:,} parameters")
        run_dir = os.path.join(folder, f"{name}-{model}")
        log(f"== {name} / {model}: training into {run_dir}")
        summary = train(config, run_dir, overwrite=True, verbose=2)
        reference = reference or summary["parameters"]
        speed, outputs = inference_speed(run_dir, inputs)
        metric = comparison["metric"]
        if translate_test:
            value = corpus_bleu(outputs, [target for _, target in translate_test])
            where = "test_2016_flickr, greedy"
        else:
            value = summary["test"][metric]
            where = "test split"
        rows.append({"task": name, "model": model, "parameters": summary["parameters"],
                     "metric": f"{metric} ({where})", "value": round(value, 4),
                     "train_seconds": summary["train_seconds"],
                     "examples_per_second": round(speed, 1)})
        log(format_table(rows))  # progress, in case a later run fails
    return rows


# ------------------------------------------------------------------------------ outputs
COLUMNS = ("task", "model", "parameters", "metric", "value", "train_seconds",
           "examples_per_second")


def format_table(rows):
    """A Markdown table of ``rows``."""
    lines = ["| task | model | parameters | metric | value | training s | inference examples/s |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: |"]
    lines += [f"| {r['task']} | {r['model']} | {r['parameters']:,} | {r['metric']} | "
              f"{r['value']:.3f} | {r['train_seconds']:.0f} | {r['examples_per_second']:,.0f} |"
              for r in rows]
    return "\n".join(lines)


def write_csv(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=tuple(COMPARISONS),
                        default=list(COMPARISONS))
    parser.add_argument("--translate-data", default=os.path.join(
        REPO, "..", "shared", "data", "multi30k-en-fr"), metavar="DIR",
        help="a folder with Multi30k's train.tsv and test_2016_flickr.tsv")
    parser.add_argument("--minutes", type=float, default=3.0,
                        help="translate: training minutes per model (0 = its epochs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=".", metavar="DIR",
                        help="where architectures.{csv,md,png} go")
    parser.add_argument("--runs", metavar="DIR",
                        help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="a few steps each: a smoke test")
    args = parser.parse_args()

    from tfbig.plots import plot_architecture_comparison

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.only:
            rows += compare(name, args, args.runs or scratch)
    os.makedirs(args.output, exist_ok=True)
    write_csv(rows, os.path.join(args.output, "architectures.csv"))
    with open(os.path.join(args.output, "architectures.md"), "w", encoding="utf-8") as handle:
        handle.write(format_table(rows) + "\n")
    plot_architecture_comparison(rows, os.path.join(args.output, "architectures.png"))
    print(format_table(rows))


if __name__ == "__main__":
    main()
