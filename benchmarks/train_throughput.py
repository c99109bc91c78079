"""Training throughput with ``model.fit``: baseline, tfbig, tfbig's variants, one process.

    python benchmarks/train_throughput.py [--quick] [--configs "baseline,kerashub,tfbig"]

``kerashub`` is the same model built from KerasHub's layers (``kerashub_baseline.py``),
compiled like the tutorial baseline: a second "what you would write yourself" reference.
``pytorch`` is ``torch.nn.Transformer`` at the same config (``pytorch_baseline.py``), timed
in its own process after the interleaved rounds. Where ``keras_hub`` or ``torch`` does not
import, its row is skipped with one printed line.

Every model is compiled first; then the timed ``fit`` calls go round-robin over the models
(``workloads.interleave``), so load from other jobs on the machine falls on all of them
alike. A matmul-only "floor" — the step's matmuls at the step's shapes, forward and
backward, nothing else — runs in the same rotation: it bounds what any implementation
built on TensorFlow's CPU kernels can reach here.

``--worker JSON`` is the fresh-process mode used for peak memory and the scaling sweep:
one config, one size, peak RSS from ``getrusage``.
"""

import argparse
import json
import math
import sys
import time

import analytic
import workloads
from workloads import Size

# name → how to build and compile it. "attention"/"gather_loss"/"xla_weight_gradients" are
# the prototypes of prototypes.py, "keras_parts" puts Keras' versions back; everything else
# is the tfbig model as shipped.
CONFIGS = {
    "baseline": dict(kind="baseline"),
    "baseline XLA": dict(kind="baseline", jit_compile=True),
    # The tutorial's call() without `training`: Keras 3's fit never turns its dropout on.
    "baseline as written": dict(kind="baseline as written"),
    "baseline as written XLA": dict(kind="baseline as written", jit_compile=True),
    # TensorFlow's own kernel choice (Eigen on CPUs without AVX-512): what the tutorial
    # gets when run as it is. A separate process (the switch is read at import), timed
    # after the interleaved rounds, so these rows are not side by side with the others.
    "baseline, TF defaults": dict(kind="baseline", env={"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "tfbig, TF defaults": dict(kind="tfbig", env={"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "kerashub": dict(kind="kerashub"),  # skipped where keras_hub does not import
    # torch.nn.Transformer (pytorch_baseline.py): a separate process, skipped without torch.
    "pytorch": dict(kind="pytorch", separate=True),
    "tfbig": dict(kind="tfbig"),
    "tfbig XLA": dict(kind="tfbig", jit_compile=True),
    "tfbig spe=2": dict(kind="tfbig", steps_per_execution=2),
    "tfbig XLA spe=2": dict(kind="tfbig", jit_compile=True, steps_per_execution=2),
    "tfbig +fused QKV": dict(kind="tfbig", attention="fused_qkv"),
    # Dense weight gradients on XLA's kernels: faster for some shapes only (docs/benchmarks.md).
    "tfbig +XLA weight grads": dict(kind="tfbig", xla_weight_gradients=True),
    "tfbig, gather loss (before)": dict(kind="tfbig", gather_loss=True),
    # What tfbig's own dropout, FusedAdamW and argmax gained: Keras' versions swapped back.
    "tfbig w/ Keras dropout": dict(kind="tfbig", keras_parts=("dropout",)),
    "tfbig w/ Keras AdamW": dict(kind="tfbig", keras_parts=("adamw",)),
    "tfbig w/ keras.ops.argmax": dict(kind="tfbig", keras_parts=("argmax",)),
    "tfbig w/ all three Keras'": dict(kind="tfbig", keras_parts=("dropout", "adamw", "argmax")),
    # What RealTokenTrainStep (no logits for padding) gains: Keras' train_step put back.
    "tfbig w/ Keras train_step": dict(kind="tfbig", keras_parts=("train_step",)),
}
# Left out of the default run to keep it under 25 minutes (name them with --configs).
DEFAULT_CONFIGS = [name for name in CONFIGS
                   if name not in ("tfbig XLA spe=2", "baseline as written XLA")
                   and "keras_parts" not in CONFIGS[name]]


def parse_configs(text):
    """``--configs`` → names; a name may itself hold a comma ("tfbig, gather loss …"), so
    the longest known name at each point wins."""
    names, rest = [], text
    while rest:
        match = max((name for name in CONFIGS if rest == name or rest.startswith(name + ",")),
                    key=len, default=None)
        if match is None:
            raise SystemExit(f"--configs: unknown config at {rest!r}; known: "
                             f"{', '.join(CONFIGS)}")
        names.append(match)
        rest = rest[len(match) + 1:]
    return names


def build_and_compile(name, size, data, first_steps):
    """Build and compile config ``name``, then ``fit`` ``first_steps`` steps (the trace)."""
    import prototypes

    spec = CONFIGS[name]
    with prototypes.keras_parts(*spec.get("keras_parts", ())), \
            prototypes.xla_weight_gradients(spec.get("xla_weight_gradients", False)):
        model = workloads.build_model(spec["kind"], size, spec.get("attention"))
        model = workloads.compile_for_training(
            model, spec["kind"], size, spec.get("jit_compile", False),
            spec.get("steps_per_execution", 1), spec.get("gather_loss", False))
        model.fit(data, steps_per_epoch=first_steps, epochs=1, verbose=0)
    return model


def matmul_floor(size):
    """A function running exactly the train step's matmuls (forward, dX, dW), nothing else."""
    import tensorflow as tf

    b, s, t, d, f = size.batch, size.length, size.length, size.d_model, size.dff
    heads, head_dim = size.num_heads, size.d_model // size.num_heads
    dense, batched = [], []  # (M, K, N) and (batch, M, K, N)
    for _ in range(size.num_layers):  # encoder
        dense += [(b * s, d, d)] * 4 + [(b * s, d, f), (b * s, f, d)]
        batched += [(b * heads, s, head_dim, s), (b * heads, s, s, head_dim)]
    for _ in range(size.num_layers):  # decoder: self, cross (Q,O on T; K,V on S), FFN
        dense += [(b * t, d, d)] * 6 + [(b * s, d, d)] * 2 + [(b * t, d, f), (b * t, f, d)]
        batched += [(b * heads, t, head_dim, t), (b * heads, t, t, head_dim),
                    (b * heads, t, head_dim, s), (b * heads, t, s, head_dim)]
    dense.append((b * t, d, size.vocab))
    pairs = []
    for m, k, n in dense:  # forward, input gradient, weight gradient
        pairs += [((m, k), (k, n)), ((m, n), (n, k)), ((k, m), (m, n))]
    for g, m, k, n in batched:
        pairs += [((g, m, k), (g, k, n)), ((g, m, n), (g, n, k)), ((g, k, m), (g, m, n))]
    tensors = [(tf.random.normal(x), tf.random.normal(y)) for x, y in pairs]

    @tf.function
    def run():
        total = tf.constant(0.0)
        for x, y in tensors:
            total += tf.matmul(x, y)[..., 0, 0]  # depend on every product, cheaply
        return total

    run()  # trace
    return lambda: run().numpy()


def run(size, names, rounds, steps_per_round, warmup_steps=3, log=print):
    """Compile every config, then time them interleaved. → ``{name: row}``.

    Each config: one ``fit`` of ``warmup_steps`` (tracing/XLA compile, then warm steps),
    then ``rounds`` × ``steps_per_round`` timed steps, round-robin with the others.
    """
    data = workloads.dataset(size)
    flops = analytic.train_step_flops(**size.flops_args())
    jobs, compile_seconds, models, separate = {}, {}, {}, []
    for name in names:
        reason = workloads.unavailable(CONFIGS[name]["kind"])
        if reason:
            log(f"  skipped {name}: {reason}")
            continue
        if "env" in CONFIGS[name] or CONFIGS[name].get("separate"):
            separate.append(name)
            continue
        started = time.perf_counter()
        model = build_and_compile(name, size, data, warmup_steps)  # trace + warm
        compile_seconds[name] = time.perf_counter() - started
        log(f"  compiled {name} ({compile_seconds[name]:.0f}s incl. {warmup_steps} steps)")
        models[name] = model
        jobs[name] = (lambda m=model: workloads.timed_fit(m, data, steps_per_round), 1)
    jobs["matmul floor"] = (matmul_floor(size), 1)
    timings = workloads.interleave(jobs, rounds)
    rows = {}
    for name, timing in timings.items():
        rows[name] = dict(
            seconds_best=timing.best, seconds_median=timing.median,
            cpu_seconds=timing.cpu_best, cpu_seconds_median=timing.cpu_median,
            tokens_per_s=size.tokens_per_step / timing.best,
            tokens_per_s_median=size.tokens_per_step / timing.median,
            gflops=flops / timing.best / 1e9,
            compile_seconds=compile_seconds.get(name))
        if name in models:
            loss = models[name].history.history["loss"][-1]
            rows[name]["loss_finite"] = bool(math.isfinite(loss))
    for name in separate:
        log(f"  timing {name} in a separate process ({rounds * steps_per_round} steps)")
        row = run_worker(name, size, rounds * steps_per_round, warmup_steps=warmup_steps)
        if "error" in row:
            log(f"  skipped {name}: {row['error']}")
            continue
        row["gflops"] = flops / row["seconds_best"] / 1e9
        rows[name] = row
    return rows


def worker(name, size, steps, warmup_steps=1):
    """Fresh process: one config; → tokens/s and RSS (MiB) after import, compile, steps."""
    if CONFIGS[name]["kind"] == "pytorch":  # no TensorFlow in this process
        import pytorch_baseline

        return pytorch_baseline.worker(name, size, steps, warmup_steps)
    import keras  # noqa: F401  (imported before measuring the runtime's own footprint)
    import tensorflow as tf  # noqa: F401
    from tfbig.cpu_kernels import onednn_enabled

    rss_runtime = workloads.peak_rss_mib()
    data = workloads.dataset(size)
    started = time.perf_counter()
    model = build_and_compile(name, size, data, warmup_steps)  # trace/compile + warm steps
    compile_seconds = time.perf_counter() - started
    timing = workloads.Timings()
    timing.measure(lambda: workloads.timed_fit(model, data, steps))
    return workloads.worker_row(name, size, timing, rss_runtime, compile_seconds,
                                onednn=onednn_enabled())


def run_worker(name, size, steps, timeout=900, warmup_steps=1):
    """Run :func:`worker` in a fresh Python process (with the config's ``env``, if any);
    → its result dict (or an error)."""
    import os
    import subprocess

    spec = json.dumps(dict(name=name, size=size.__dict__, steps=steps,
                           warmup_steps=warmup_steps))
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, **CONFIGS[name].get("env", {})}
    try:
        done = subprocess.run([sys.executable, os.path.join(here, "train_throughput.py"),
                               "--worker", spec], capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return dict(name=name, size=size.__dict__, error=f"timed out after {timeout}s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return dict(name=name, size=size.__dict__,
                    error=(done.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(lines[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, smoke run")
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps-per-round", type=int, default=2)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(worker(spec["name"], Size(**spec["size"]), spec["steps"],
                                spec.get("warmup_steps", 1))))
        return 0
    size = workloads.QUICK if args.quick else workloads.REFERENCE
    rows = run(size, parse_configs(args.configs), args.rounds, args.steps_per_round,
               args.warmup_steps)
    base = rows.get("baseline")
    for name, row in rows.items():
        ratio = (f"{base['seconds_best'] / row['seconds_best']:.2f}x (cpu "
                 f"{base['cpu_seconds_median'] / row['cpu_seconds_median']:.2f}x)"
                 if base else "")
        print(f"{name:32s} {row['tokens_per_s']:8.0f} tok/s (median "
              f"{row['tokens_per_s_median']:.0f})  cpu {row['cpu_seconds']:.2f}s/step "
              f"(median {row['cpu_seconds_median']:.2f})  {ratio}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(dict(machine=workloads.machine_description(), size=size.__dict__,
                           rows=rows), file, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
