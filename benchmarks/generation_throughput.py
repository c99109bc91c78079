"""Generation throughput: the tutorial's greedy loop vs ``tfbig.generation.generate``.

    python benchmarks/generation_throughput.py [--quick]

Batch 8, source 64, 64 new tokens, no end token (every method does the full 64 steps);
tokens/s = batch × new tokens / seconds per call (beam search: the returned best beam's
tokens, not beam × tokens). Each function is compiled by a first call, then all are timed
round-robin. Also checked: cached tokens == uncached tokens (XLA off and on), and the
prototype attentions against tfbig's (same weights: same tokens, logits within 1e-5).
"""

import argparse
import sys
import time

import numpy as np

import workloads
from workloads import Size

START_ID = 1


def generation_size(size):
    """Batch 8, 64 new tokens at the reference size; smaller for --quick."""
    return Size(**{**size.__dict__, "batch": min(size.batch, 8)})


def copy_into_fused(source_model, fused_model):
    """Copy tfbig weights into a fused-QKV model: kernels [Wq | Wk | Wv] side by side."""
    def strip(path):
        return path.split("/", 1)[1]  # drop the model's own (auto-numbered) name

    weights = {strip(w.path): w.numpy() for w in source_model.weights}
    for variable in fused_model.weights:
        path = strip(variable.path)
        if "query_key_value" in path:
            parts = [weights[path.replace("query_key_value", n)] for n in ("query", "key",
                                                                           "value")]
        elif "key_value" in path:
            parts = [weights[path.replace("key_value", n)] for n in ("key", "value")]
        else:
            parts = [weights[path]]
        variable.assign(np.concatenate(parts, axis=-1))


def build_models(size, source):
    """The tutorial model, tfbig's, and tfbig's with each prototype attention (same weights)."""
    import keras

    keras.utils.set_random_seed(0)
    models = {}
    decoder_input = np.full((source.shape[0], 2), START_ID, "int32")
    for name, kind, attention in (("baseline", "baseline", None), ("tfbig", "tfbig", None),
                                  ("fused_qkv", "tfbig", "fused_qkv"),
                                  ("sdpa", "tfbig", "sdpa")):
        model = workloads.build_model(kind, size, attention)
        model((source, decoder_input), training=False)  # create the weights
        models[name] = model
    copy_into_fused(models["tfbig"], models["fused_qkv"])
    models["sdpa"].set_weights(models["tfbig"].get_weights())
    return models


def forward_difference(a, b, source, target):
    """Largest |logit difference| between two models on one batch (inference mode)."""
    return float(np.max(np.abs(a((source, target), training=False).numpy()
                               - b((source, target), training=False).numpy())))


def run(size, new_tokens, rounds, xla_beam_and_sampling=True, log=print):
    import baseline_tutorial
    import tensorflow as tf
    from tfbig.generation import generate

    gen_size = generation_size(size)
    (source, target), _ = workloads.synthetic_batch(gen_size, seed=1)
    models = build_models(size, source)
    tfbig_model = models["tfbig"]

    def tfbig_job(model, **options):
        return lambda: generate(model, source, new_tokens, START_ID, **options).numpy()

    translator = baseline_tutorial.Translator(models["baseline"], new_tokens, START_ID)
    jobs = {
        "baseline loop (tf.function)": lambda: translator(source).numpy(),
        "tfbig greedy uncached": tfbig_job(tfbig_model, use_cache=False),
        "tfbig greedy uncached XLA": tfbig_job(tfbig_model, use_cache=False, jit_compile=True),
        "tfbig greedy cached": tfbig_job(tfbig_model),
        "tfbig greedy cached XLA": tfbig_job(tfbig_model, jit_compile=True),
        "tfbig beam 4": tfbig_job(tfbig_model, method="beam", beam_size=4),
        "tfbig beam 4 XLA": tfbig_job(tfbig_model, method="beam", beam_size=4,
                                      jit_compile=True),
        "tfbig sample top-k 50": tfbig_job(tfbig_model, method="sample", top_k=50, seed=0),
        "tfbig sample top-k 50 XLA": tfbig_job(tfbig_model, method="sample", top_k=50, seed=0,
                                               jit_compile=True),
        "tfbig greedy cached +fused QKV": tfbig_job(models["fused_qkv"]),
        "tfbig greedy cached +SDPA": tfbig_job(models["sdpa"]),
        # The inference forward pass over a whole training batch, attention variants.
        "forward tfbig": None, "forward +fused QKV": None, "forward +SDPA": None,
    }
    if not xla_beam_and_sampling:
        del jobs["tfbig beam 4 XLA"], jobs["tfbig sample top-k 50 XLA"]
    forward_batch = workloads.synthetic_batch(size, seed=2)[0]
    for name, key in (("forward tfbig", "tfbig"), ("forward +fused QKV", "fused_qkv"),
                      ("forward +SDPA", "sdpa")):
        function = tf.function(lambda ids, m=models[key]: m(ids, training=False))
        jobs[name] = lambda f=function: f(forward_batch).numpy()

    # Called once, untimed, only for the cached == uncached check of sampling.
    outputs = {"tfbig sample top-k 50 uncached": tfbig_job(
        tfbig_model, method="sample", top_k=50, seed=0, use_cache=False)()}
    compile_seconds = {}
    for name, job in jobs.items():
        started = time.perf_counter()
        outputs[name] = job()
        compile_seconds[name] = time.perf_counter() - started
        log(f"  compiled {name} ({compile_seconds[name]:.0f}s incl. one call)")
    # The forward passes take under a second each: more rounds, in their own rotation.
    forward = {name: (job, 1) for name, job in jobs.items() if name.startswith("forward")}
    timings = workloads.interleave({name: (job, 1) for name, job in jobs.items()
                                    if name not in forward}, rounds)
    timings.update(workloads.interleave(forward, 3 * rounds + 1))

    tokens = gen_size.batch * new_tokens
    rows = {}
    for name, timing in timings.items():
        per = tokens if not name.startswith("forward") else size.tokens_per_step
        rows[name] = dict(seconds_best=timing.best, seconds_median=timing.median,
                          tokens_per_s=per / timing.best, tokens_per_s_median=per / timing.median,
                          compile_seconds=compile_seconds[name])

    def same(a, b):
        return dict(a=a, b=b, equal=bool(np.array_equal(outputs[a], outputs[b])),
                    mismatches=int(np.sum(outputs[a] != outputs[b])))

    checks = [same("tfbig greedy cached", "tfbig greedy uncached"),
              same("tfbig greedy cached XLA", "tfbig greedy uncached XLA"),
              same("tfbig greedy cached XLA", "tfbig greedy cached"),
              same("tfbig sample top-k 50", "tfbig sample top-k 50 uncached"),
              same("tfbig greedy cached +fused QKV", "tfbig greedy cached"),
              same("tfbig greedy cached +SDPA", "tfbig greedy cached")]
    if xla_beam_and_sampling:
        checks.append(same("tfbig beam 4 XLA", "tfbig beam 4"))
    distinct = len(np.unique(outputs["tfbig greedy cached"]))
    agreement = {
        "fused_qkv": forward_difference(models["fused_qkv"], tfbig_model, *forward_batch),
        "sdpa": forward_difference(models["sdpa"], tfbig_model, *forward_batch),
    }
    return dict(rows=rows, checks=checks, distinct_greedy_tokens=distinct,
                forward_max_abs_difference=agreement, batch=gen_size.batch,
                source_length=gen_size.length, new_tokens=new_tokens)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, smoke run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    size = workloads.QUICK if args.quick else workloads.REFERENCE
    result = run(size, 8 if args.quick else 64, args.rounds)
    base = result["rows"]["baseline loop (tf.function)"]["seconds_best"]
    for name, row in result["rows"].items():
        print(f"{name:34s} {row['tokens_per_s']:9.0f} tok/s  {base / row['seconds_best']:6.1f}x")
    for check in result["checks"]:
        print(f"{'✓' if check['equal'] else '✗'} {check['a']} == {check['b']}")
    print("forward max |Δ|:", result["forward_max_abs_difference"],
          "distinct greedy tokens:", result["distinct_greedy_tokens"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
