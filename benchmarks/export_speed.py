"""Exported SavedModel vs in-process greedy translation, side by side on the same run.

    python benchmarks/export_speed.py [--quick] [--run DIR] [--batches 8,32] [--rounds 15]

Without ``--run`` a translate run is trained first on the shipped ``data/dates.tsv``
(``small`` preset, ``--quick``: ``tiny``), so outputs stop at [END] as a real model's do.
The run is exported with ``tfbig.exporting.export_run`` and loaded back; then, for each
batch size, on the same batch of held-out source texts (greedy, the run's target length):

* ``in-process``: ``task.predict_texts(model, texts)`` — Python tokenization, the compiled
  ``tfbig.generation.generate`` loop, detokenization, Python strings (what ``predict`` runs);
* ``generate only``: the ``generate`` call alone on pre-tokenized ids (the in-process core);
* ``exported``: the SavedModel's ``serving_default`` on the raw strings, string tensor out.

Each is called once untimed (compilation), then all are timed round-robin; tokens/s =
generated tokens (up to and including [END]) / best seconds per call (medians and CPU
seconds per call beside them: a load-robust view); ratio = exported tokens/s ÷ in-process
tokens/s (> 1: the export is faster). The outputs are checked equal.
``main()`` returns the figures as a dict (for ``run_all.py``).
"""

import argparse
import os
import sys
import tempfile
import time

import workloads
from tfbig.tasks import resolve_config

HERE = os.path.dirname(os.path.abspath(__file__))
DATES = os.path.join(HERE, "..", "data", "dates.tsv")
TRAIN_LINES = 3000  # the run trains on the first lines; the batches come from after them


def log(message):
    print(message, file=sys.stderr, flush=True)


def train_translate_run(run_dir, quick):
    """A translate run on the first ``TRAIN_LINES`` lines of the dates sample."""
    from tfbig.runs.fit import train

    data = os.path.join(os.path.dirname(run_dir), "dates.tsv")
    with open(DATES, encoding="utf-8") as source, open(data, "w", encoding="utf-8") as f:
        f.writelines(line for _, line in zip(range(TRAIN_LINES), source))
    config = resolve_config({
        "task": "translate", "data.path": data, "model.preset": "tiny" if quick else "small",
        "train.epochs": 1, "train.steps_per_epoch": 40 if quick else 150,
        "train.batch_size": 32, "train.schedule": "cosine", "train.warmup_steps": 10,
        "train.learning_rate": 3e-3, "train.jit_compile": False,
        "train.epoch_metrics_examples": 0})
    started = time.perf_counter()
    train(config, run_dir, verbose=0)
    log(f"  trained {run_dir} in {time.perf_counter() - started:.0f}s")


def held_out_sources(count):
    """``count`` source texts from after the training lines of the dates sample."""
    with open(DATES, encoding="utf-8") as f:
        lines = f.read().splitlines()[TRAIN_LINES:]
    return [line.split("\t")[0] for line in lines[:count]]


def run(run_dir, batches=(8, 32), rounds=15):
    """Time in-process vs exported greedy translation on ``run_dir``; → dict of figures."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the exported tokenizer ops)

    from tfbig.data.batching import to_fixed_length
    from tfbig.exporting import export_run
    from tfbig.generation import generate
    from tfbig.inference import load_run
    from tfbig.special_tokens import END_ID, START_ID

    task, model = load_run(run_dir)
    data = task.config.data
    export_dir = os.path.join(tempfile.mkdtemp(prefix="tfbig-export-speed-"), "export")
    started = time.perf_counter()
    export_run(run_dir, export_dir, check=False, log=lambda message: None)
    export_seconds = time.perf_counter() - started
    started = time.perf_counter()
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    load_seconds = time.perf_counter() - started
    log(f"  exported in {export_seconds:.1f}s, loaded in {load_seconds:.1f}s")

    report = {"run": run_dir, "model_parameters": int(model.count_params()),
              "max_new_tokens": data.max_target_length, "export_seconds": export_seconds,
              "load_seconds": load_seconds, "batches": {}}
    for batch in batches:
        texts = held_out_sources(batch)
        source_ids = tf.cast(to_fixed_length(task.source_tokenizer.tokenize(texts),
                                             data.max_source_length), tf.int32)
        new_tokens = generate(model, source_ids, data.max_target_length, START_ID, END_ID)
        tokens = int(np.count_nonzero(new_tokens.numpy()))  # generated, [END] included
        jobs = {
            "in-process": lambda texts=texts: task.predict_texts(model, texts,
                                                                 batch_size=len(texts)),
            "generate only": lambda ids=source_ids: generate(
                model, ids, data.max_target_length, START_ID, END_ID).numpy(),
            "exported": lambda texts=texts: [text.decode("utf-8") for text in serve(
                inputs=tf.constant(texts))["outputs"].numpy()],
        }
        outputs = {name: job() for name, job in jobs.items()}  # compile, untimed
        timings = workloads.interleave({name: (job, 1) for name, job in jobs.items()}, rounds)
        rows = {name: {"seconds_best": timing.best, "seconds_median": timing.median,
                       "tokens_per_s": tokens / timing.best,
                       "tokens_per_s_median": tokens / timing.median,
                       "cpu_seconds_median": timing.cpu_median}
                for name, timing in timings.items()}
        report["batches"][batch] = {
            "tokens": tokens, "rows": rows,
            "ratio_exported_vs_in_process": (rows["exported"]["tokens_per_s"]
                                             / rows["in-process"]["tokens_per_s"]),
            "ratio_exported_vs_generate_only": (rows["exported"]["tokens_per_s"]
                                                / rows["generate only"]["tokens_per_s"]),
            "outputs_equal": outputs["exported"] == outputs["in-process"],
        }
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a translate run folder (default: train one)")
    parser.add_argument("--quick", action="store_true", help="tiny model, smoke run")
    parser.add_argument("--batches", default="8,32", help="comma-separated batch sizes")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    run_dir = args.run
    if run_dir is None:
        run_dir = os.path.join(tempfile.mkdtemp(prefix="tfbig-export-speed-"), "run")
        log("training a translate run on data/dates.tsv")
        train_translate_run(run_dir, args.quick)
    report = run(run_dir, [int(size) for size in args.batches.split(",")], args.rounds)
    report["machine"] = workloads.machine_description()
    print(f"# exported SavedModel vs in-process greedy translation "
          f"({report['model_parameters']:,} parameters, up to {report['max_new_tokens']} "
          f"new tokens; export {report['export_seconds']:.1f}s, load "
          f"{report['load_seconds']:.1f}s)")
    for batch, figures in report["batches"].items():
        print(f"\nbatch {batch}: {figures['tokens']} generated tokens; outputs "
              f"{'equal ✓' if figures['outputs_equal'] else 'DIFFER ✗'}")
        for name, row in figures["rows"].items():
            print(f"  {name:14s} {row['tokens_per_s']:9.0f} tok/s (median "
                  f"{row['tokens_per_s_median']:7.0f})  {row['seconds_best'] * 1e3:8.1f} ms "
                  f"best, {row['cpu_seconds_median'] * 1e3:8.1f} ms CPU (median)")
        print(f"  ratio exported / in-process: {figures['ratio_exported_vs_in_process']:.2f}"
              f"  (exported / generate only: "
              f"{figures['ratio_exported_vs_generate_only']:.2f})")
    return report


if __name__ == "__main__":
    main()
    sys.exit(0)
