"""Two worker processes vs one process on the same cores: what multi-worker costs here.

    python benchmarks/multiworker_overhead.py [--task classify] [--steps 30] [--epochs 3]

Both sides train the same config (``--task``'s shipped sample, the ``small`` preset, the same
global batch, seed, steps and epochs), one after the other, never at the same time:

* **one process**: ``python -m tfbig.train`` with two intra-op threads;
* **two workers**: two ``python -m tfbig.train --strategy multiworker`` processes on
  127.0.0.1 (``TF_CONFIG``), one intra-op thread each, each computing half of every batch
  and all-reducing the gradients over gRPC (``tfbig.training.multiworker_loop``).

The rate of each is the last epoch's ``tokens_per_second`` from ``history.csv`` (training
steps only: start-up, tracing and validation excluded). On one machine two workers can
at best match one process (the same cores, plus the all-reduce and a second copy of
everything): the ratio is the communication and duplication overhead, honestly labelled —
not a speed-up. Across machines the same commands add cores instead of sharing them.
"""

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def command(args, run_dir, *extra):
    return [sys.executable, "-m", "tfbig.train", "--task", args.task, "--output", run_dir,
            "--epochs", str(args.epochs), "--steps-per-epoch", str(args.steps),
            "--batch-size", str(args.batch_size), "--seed", "0",
            "--set", "model.preset=small", "--set", "train.epoch_metrics_examples=0",
            "--set", "train.jit_compile=false", *extra]


def last_rate(run_dir):
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return float(rows[-1]["tokens_per_second"])


def run(commands, environments, timeout=1800):
    """Start every command at once, wait for all; fail with the stderr of one that fails."""
    started = time.perf_counter()
    processes = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for cmd, env in zip(commands, environments)]
    try:
        results = [process.communicate(timeout=timeout) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_, stderr) in zip(processes, results):
        if process.returncode:
            sys.exit(f"a run failed (exit {process.returncode}); its stderr ends:\n"
                     + stderr[-3000:])
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="classify", choices=("classify", "translate", "lm"))
    parser.add_argument("--steps", type=int, default=30, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch")
    args = parser.parse_args()
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryDirectory() as scratch:
        single = os.path.join(scratch, "one")
        seconds_one = run([command(args, single)],
                          [{**base, "TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1"}])
        cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
        pair = os.path.join(scratch, "two")
        environments = [{**base, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
                         "TF_CONFIG": json.dumps({"cluster": {"worker": cluster},
                                                  "task": {"type": "worker", "index": i}})}
                        for i in range(2)]
        seconds_two = run([command(args, pair, "--strategy", "multiworker")] * 2, environments)
        one, two = last_rate(single), last_rate(pair)
    print(f"task {args.task}, small preset, global batch {args.batch_size}, "
          f"{args.epochs} epochs × {args.steps} steps, {os.cpu_count()} logical CPUs")
    print(f"| setup | tokens/s (last epoch) | whole command s |\n| --- | ---: | ---: |\n"
          f"| one process, 2 threads | {one:,.0f} | {seconds_one:.0f} |\n"
          f"| two workers, 1 thread each | {two:,.0f} | {seconds_two:.0f} |")
    # Above 1×: one process's two intra-op threads shared its small ops worse than two
    # single-threaded workers did, more than the all-reduce cost (no speed-up from more cores)
    verdict = (f"{(1 - two / one) * 100:.0f}% overhead" if two < one else
               "no net overhead at this size: the all-reduce cost less than two threads "
               "lost sharing one process")
    print(f"two workers / one process: {two / one:.2f}× the throughput ({verdict})")


if __name__ == "__main__":
    main()
