"""Training on a corpus larger than memory: peak RSS and the input pipeline's margin.

    python benchmarks/streaming_corpus.py                      # 1.5 GB in 8 shards
    python benchmarks/streaming_corpus.py --gigabytes 0.3      # quicker
    python benchmarks/streaming_corpus.py --folder /big/disk   # where the corpus goes

Writes a synthetic translation corpus — sentence pairs over a 5,000-word vocabulary, the
target a word-by-word "translation" in reverse order — as 8 plain shards of
``--gigabytes`` in all, and a 15 MB single file of the same generator. Then, each in a fresh
Python process (so ``ru_maxrss`` is that run's own peak):

1. ``train`` on the 15 MB file (in memory: below ``data.stream_threshold_mb``) and on the
   shards (streamed), ``--steps`` training steps of the tiny Transformer, fixed batches of
   64 pairs (the smallest model: the hardest test for the pipeline). The child stops at the
   end of ``model.fit``: the final metrics (decoding) are not what is measured.
2. the streamed input pipeline alone: training batches per second, tokenised, as ``fit``
   gets them, against the examples per second the model consumed in (1);
3. the streamed split alone (``tfbig.data.hash_split``): keys per second of the hash op, and
   of ``split_filter`` over a dataset of strings, against the same model rate.

Target (issue 18): the streamed run's peak RSS within 300 MB of the 15 MB run's, and the
pipeline at least 10× the model's rate.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARDS = 8
BATCH = 64
SMALL_MB = 15
COMMON = {"model.preset": "tiny", "train.batch_size": BATCH, "train.batch_tokens": 0,
          "data.tokenizer": "word", "data.vocab_size": 8000, "train.jit_compile": False,
          "train.epochs": 1, "train.epoch_metrics_examples": 0, "train.final_decode": "greedy",
          "data.max_source_length": 32, "data.max_target_length": 32}


def write_corpus(path, megabytes, seed, files=1):
    """Synthetic ``source<TAB>target`` lines, ``megabytes`` in all over ``files`` files."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(5000)]
    translated = [f"t{(i * 7919) % 5000}" for i in range(5000)]
    paths = [path] if files == 1 else [os.path.join(path, f"part-{i:05d}-of-{files:05d}.tsv")
                                       for i in range(files)]
    per_file = megabytes * 2**20 / files
    for name in paths:
        written = 0
        with open(name, "w", encoding="utf-8") as f:
            while written < per_file:
                lengths = rng.integers(4, 16, 20000)
                ids = rng.zipf(1.3, lengths.sum()) % 5000
                lines, start = [], 0
                for n in lengths:
                    row = ids[start:start + n]
                    start += n
                    lines.append(" ".join(words[i] for i in row) + "\t"
                                 + " ".join(translated[i] for i in row[::-1]) + "\n")
                block = "".join(lines)
                f.write(block)
                written += len(block)
    return paths


def hash_rates(count=200_000):
    """Keys per second: the hash op on one tensor of keys, and ``split_filter`` over a
    dataset of strings (batch → key → hash → mask → unbatch)."""
    import tensorflow as tf

    from tfbig.data.hash_split import split_filter, split_ids

    texts = [f"a source sentence of some length, number {i}" for i in range(count)]
    keys = tf.constant([text.encode() for text in texts])
    split_ids(keys[:10])  # warm up
    started = time.perf_counter()
    split_ids(keys).numpy()
    op_rate = count / (time.perf_counter() - started)
    dataset = split_filter(tf.data.Dataset.from_tensor_slices(texts), None, "train")
    started = time.perf_counter()
    for _ in dataset.batch(4096).as_numpy_iterator():
        pass
    return {"split_ids_keys_per_second": op_rate,
            "split_filter_keys_per_second": count / (time.perf_counter() - started)}


def child(data, mode, steps, output):
    """Run in a fresh process: train ``steps`` steps, or time the pipeline or split alone."""
    if mode == "hash":
        with open(output, "w") as f:
            json.dump(hash_rates(), f)
        return
    import keras

    from tfbig.tasks import get_task, resolve_config

    config = resolve_config({**COMMON, "data.path": data, "train.steps_per_epoch": steps})
    result = {}
    if mode == "pipeline":
        task = get_task(config)
        splits, _ = task.load_splits()
        task.learn_assets(splits["train"])
        task.resolve_lengths(splits["train"])
        iterator = iter(task.dataset(splits["train"], training=True))
        for _ in range(10):  # warm-up: tracing, first shuffle-buffer fill
            next(iterator)
        started = time.perf_counter()
        for _ in range(steps):
            next(iterator)
        result["pipeline_examples_per_second"] = steps * BATCH / (time.perf_counter() - started)
    else:
        from tfbig.runs.fit import train

        class StopAfterFit(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if batch == 5:
                    self.started = time.perf_counter()

            def on_train_end(self, logs=None):
                seconds = time.perf_counter() - self.started
                result["model_examples_per_second"] = (steps - 5) * BATCH / seconds
                result["peak_rss_mb"] = resource.getrusage(
                    resource.RUSAGE_SELF).ru_maxrss / 1024
                with open(output, "w") as f:
                    json.dump(result, f)
                os._exit(0)  # the final metrics are not measured

        train(config, os.path.join(tempfile.mkdtemp(), "run"), callbacks=[StopAfterFit()],
              verbose=0)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(output, "w") as f:
        json.dump(result, f)


def run_child(data, mode, steps):
    output = tempfile.mktemp(suffix=".json")
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--child", mode, "--data", data,
                    "--steps", str(steps), "--output", output], check=True,
                   stderr=subprocess.DEVNULL if mode != "train" else None)
    with open(output) as f:
        result = json.load(f)
    result["seconds"] = time.perf_counter() - started
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=1.5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--folder", default=None, help="where the corpora are written")
    parser.add_argument("--child", choices=("train", "pipeline", "hash"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.data, args.child, args.steps, args.output)

    folder = args.folder or tempfile.mkdtemp(prefix="tfbig-stream-")
    small = os.path.join(folder, "small.tsv")
    shards = os.path.join(folder, "shards")
    os.makedirs(shards, exist_ok=True)
    started = time.perf_counter()
    write_corpus(small, SMALL_MB, seed=1)
    write_corpus(shards, args.gigabytes * 1024, seed=2, files=SHARDS)
    size = sum(os.path.getsize(os.path.join(shards, name)) for name in os.listdir(shards))
    print(f"corpus: {size / 2**30:.2f} GB in {SHARDS} shards, written in "
          f"{time.perf_counter() - started:.0f} s; small: {SMALL_MB} MB", flush=True)

    results = {name: run_child(path, "train", args.steps)
               for name, path in (("15 MB, in memory", small), ("shards, streamed", shards))}
    pipeline = run_child(shards, "pipeline", args.steps * 4)
    split = run_child(shards, "hash", 0)
    for name, result in results.items():
        print(f"{name:18s} peak RSS {result['peak_rss_mb']:7.0f} MB, "
              f"model {result['model_examples_per_second']:7.0f} examples/s, "
              f"{result['seconds']:.0f} s in all")
    extra = results["shards, streamed"]["peak_rss_mb"] - results["15 MB, in memory"]["peak_rss_mb"]
    model_rate = results["shards, streamed"]["model_examples_per_second"]
    ratio = pipeline["pipeline_examples_per_second"] / model_rate
    print(f"streamed pipeline alone: {pipeline['pipeline_examples_per_second']:.0f} examples/s "
          f"= {ratio:.1f}× the model's rate (target ≥ 10×)")
    print(f"streamed split alone: split_ids {split['split_ids_keys_per_second']:,.0f} keys/s, "
          f"split_filter {split['split_filter_keys_per_second']:,.0f} keys/s = "
          f"{split['split_filter_keys_per_second'] / model_rate:.1f}× the model's rate")
    print(f"streamed peak RSS - 15 MB run's: {extra:+.0f} MB (target ≤ 300 MB)")
    print(f"RUSAGE_CHILDREN peak (largest child): "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
