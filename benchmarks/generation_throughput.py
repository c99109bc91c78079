"""Generation throughput: the tutorial's greedy loop vs ``tfbig.generation.generate``.

    python benchmarks/generation_throughput.py [--quick] [--only "NAME,NAME,..."]

Batch 8, source 64, 64 new tokens, no end token (every method does the full 64 steps);
tokens/s = batch × new tokens / seconds per call (beam search: the returned best beam's
tokens, not beam × tokens). Each function is compiled by a first call, then all are timed
round-robin. Also checked: cached tokens == uncached tokens (XLA off and on), and the
prototype attentions against tfbig's (same weights: same tokens, logits within 1e-5).

Every tfbig row names its XLA setting; ``generate``'s default (``jit_compile="auto"``) is the
XLA row of each method.

KerasHub rows (``kerashub_baseline.Generator``: KerasHub's model decoded the way
``BartSeq2SeqLM`` does, with ``TransformerDecoder``'s key/value caches, XLA off and on)
are the cached-decoding reference tfbig is measured against; their cached tokens are
checked against their own uncached decoding (run once, untimed), XLA off and on. KerasHub
has its own weights: its tokens are not comparable with tfbig's. Skipped, with one printed
line, where ``keras_hub`` does not import.

``--only`` times just the named rows (the checks needing rows not run are left out).
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


def run(size, new_tokens, rounds, xla_beam_and_sampling=True, log=print, only=None):
    """Compile every method, time them round-robin; → rows, checks, … (see ``main``).

    ``only``: a list of row names to keep (default: all of them).
    """
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
        "tfbig greedy uncached": tfbig_job(tfbig_model, use_cache=False, jit_compile=False),
        "tfbig greedy uncached XLA": tfbig_job(tfbig_model, use_cache=False, jit_compile=True),
        "tfbig greedy cached": tfbig_job(tfbig_model, jit_compile=False),
        "tfbig greedy cached XLA": tfbig_job(tfbig_model, jit_compile=True),
        "tfbig beam 4": tfbig_job(tfbig_model, method="beam", beam_size=4, jit_compile=False),
        "tfbig beam 4 XLA": tfbig_job(tfbig_model, method="beam", beam_size=4,
                                      jit_compile=True),
        "tfbig sample top-k 50": tfbig_job(tfbig_model, method="sample", top_k=50, seed=0,
                                           jit_compile=False),
        "tfbig sample top-k 50 XLA": tfbig_job(tfbig_model, method="sample", top_k=50, seed=0,
                                               jit_compile=True),
        "tfbig sample top-p 0.9": tfbig_job(tfbig_model, method="sample", top_p=0.9, seed=0,
                                            jit_compile=False),
        "tfbig sample top-p 0.9 XLA": tfbig_job(tfbig_model, method="sample", top_p=0.9,
                                                seed=0, jit_compile=True),
        "tfbig greedy cached +fused QKV": tfbig_job(models["fused_qkv"], jit_compile=False),
        "tfbig greedy cached +SDPA": tfbig_job(models["sdpa"], jit_compile=False),
        # The inference forward pass over a whole training batch, attention variants.
        "forward tfbig": None, "forward +fused QKV": None, "forward +SDPA": None,
    }
    if not xla_beam_and_sampling:
        del jobs["tfbig beam 4 XLA"], jobs["tfbig sample top-k 50 XLA"]
        del jobs["tfbig sample top-p 0.9 XLA"]
    forward_batch = workloads.synthetic_batch(size, seed=2)[0]
    for name, key in (("forward tfbig", "tfbig"), ("forward +fused QKV", "fused_qkv"),
                      ("forward +SDPA", "sdpa")):
        function = tf.function(lambda ids, m=models[key]: m(ids, training=False))
        jobs[name] = lambda f=function: f(forward_batch).numpy()
    # Called once, untimed, only for the cached == uncached checks.
    untimed = {"tfbig sample top-k 50 uncached": tfbig_job(
        tfbig_model, method="sample", top_k=50, seed=0, use_cache=False, jit_compile=False),
        "tfbig sample top-k 50 uncached XLA": tfbig_job(
        tfbig_model, method="sample", top_k=50, seed=0, use_cache=False, jit_compile=True)}

    # KerasHub's cached decoding: its own model and weights, built after (so not changing)
    # the models above; its uncached decoding runs once, untimed, for the token check.
    reason = workloads.unavailable("kerashub")
    if reason:
        log(f"  skipped KerasHub rows: {reason}")
    else:
        import keras
        import kerashub_baseline

        keras.utils.set_random_seed(0)
        kerashub = workloads.build_model("kerashub", size)
        kerashub((source, np.full((source.shape[0], 2), START_ID, "int32")), training=False)
        for xla in ("", " XLA"):
            for cache, name in ((True, "cached"), (False, "uncached")):
                generator = kerashub_baseline.Generator(kerashub, new_tokens, START_ID,
                                                        use_cache=cache, jit_compile=bool(xla))
                (jobs if cache else untimed)[f"KerasHub greedy {name}{xla}"] = (
                    lambda g=generator: g(source).numpy())

    if only is not None:
        unknown = set(only) - set(jobs) - ({n for n in only if n.startswith("KerasHub")}
                                           if reason else set())
        if unknown:
            raise ValueError(f"unknown rows {sorted(unknown)}; rows: {list(jobs)}")
        # Uncached rows left out still run once, untimed, where their cached row is kept.
        untimed.update({name: job for name, job in jobs.items()
                        if name not in only and "uncached" in name})
        jobs = {name: job for name, job in jobs.items() if name in only}
        untimed = {name: job for name, job in untimed.items()
                   if name.replace("uncached", "cached") in jobs
                   or name.replace(" uncached", "") in jobs}

    outputs = {}
    for name, job in untimed.items():
        started = time.perf_counter()
        outputs[name] = job()
        log(f"  ran {name} once, untimed ({time.perf_counter() - started:.0f}s)")
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
    if forward:  # (--only may leave none)
        timings.update(workloads.interleave(forward, 3 * rounds + 1))

    tokens = gen_size.batch * new_tokens
    rows = {}
    for name, timing in timings.items():
        per = tokens if not name.startswith("forward") else size.tokens_per_step
        rows[name] = dict(seconds_best=timing.best, seconds_median=timing.median,
                          tokens_per_s=per / timing.best, tokens_per_s_median=per / timing.median,
                          cpu_seconds=timing.cpu_best, cpu_seconds_median=timing.cpu_median,
                          tokens=per, compile_seconds=compile_seconds[name])

    def same(a, b):
        return dict(a=a, b=b, equal=bool(np.array_equal(outputs[a], outputs[b])),
                    mismatches=int(np.sum(outputs[a] != outputs[b])))

    pairs = [("tfbig greedy cached", "tfbig greedy uncached"),
             ("tfbig greedy cached XLA", "tfbig greedy uncached XLA"),
             ("tfbig greedy cached XLA", "tfbig greedy cached"),
             ("tfbig sample top-k 50", "tfbig sample top-k 50 uncached"),
             ("tfbig sample top-k 50 XLA", "tfbig sample top-k 50 uncached XLA"),
             ("tfbig greedy cached +fused QKV", "tfbig greedy cached"),
             ("tfbig greedy cached +SDPA", "tfbig greedy cached")]
    if xla_beam_and_sampling:
        pairs.append(("tfbig beam 4 XLA", "tfbig beam 4"))
    # Appended last: run_all reads the first two checks as tfbig's cached == uncached.
    pairs += [("KerasHub greedy cached", "KerasHub greedy uncached"),
              ("KerasHub greedy cached XLA", "KerasHub greedy uncached XLA"),
              ("KerasHub greedy cached XLA", "KerasHub greedy cached")]
    checks = [same(a, b) for a, b in pairs if a in outputs and b in outputs]

    def distinct(name):  # the token checks are not comparing constant sequences
        return len(np.unique(outputs[name])) if name in outputs else None

    agreement = {
        "fused_qkv": forward_difference(models["fused_qkv"], tfbig_model, *forward_batch),
        "sdpa": forward_difference(models["sdpa"], tfbig_model, *forward_batch),
    }
    return dict(rows=rows, checks=checks,
                distinct_greedy_tokens=distinct("tfbig greedy cached"),
                distinct_greedy_tokens_kerashub=distinct("KerasHub greedy cached"),
                forward_max_abs_difference=agreement, batch=gen_size.batch,
                source_length=gen_size.length, new_tokens=new_tokens)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, smoke run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="comma-separated row names to time (default: all)")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args(argv)
    size = workloads.QUICK if args.quick else workloads.REFERENCE
    only = args.only.split(",") if args.only else None
    result = run(size, 8 if args.quick else 64, args.rounds, only=only)
    rows = result["rows"]
    base = rows.get("baseline loop (tf.function)")
    for name, row in rows.items():
        ratio = (f"{base['seconds_best'] / row['seconds_best']:6.1f}x (cpu "
                 f"{base['cpu_seconds_median'] / row['cpu_seconds_median']:5.1f}x)"
                 if base else "")
        print(f"{name:34s} {row['tokens_per_s']:9.0f} tok/s (median "
              f"{row['tokens_per_s_median']:5.0f})  cpu "
              f"{1e3 * row['cpu_seconds_median'] / row['tokens']:6.2f} ms/token  {ratio}")
    for xla in ("", " XLA"):
        tfbig, kerashub = f"tfbig greedy cached{xla}", f"KerasHub greedy cached{xla}"
        if tfbig in rows and kerashub in rows:
            print(f"{tfbig} / {kerashub}: "
                  f"{rows[kerashub]['seconds_best'] / rows[tfbig]['seconds_best']:.2f}x wall, "
                  f"{rows[kerashub]['cpu_seconds_median'] / rows[tfbig]['cpu_seconds_median']:.2f}x"
                  f" cpu")
    for check in result["checks"]:
        print(f"{'✓' if check['equal'] else '✗'} {check['a']} == {check['b']}"
              + ("" if check["equal"] else f" ({check['mismatches']} tokens differ)"))
    if args.json:
        import json

        with open(args.json, "w") as file:
            json.dump(dict(machine=workloads.machine_description(), **result), file, indent=1,
                      default=str)
    print("forward max |Δ|:", result["forward_max_abs_difference"],
          "distinct greedy tokens:", result["distinct_greedy_tokens"],
          "(KerasHub:", result["distinct_greedy_tokens_kerashub"], end=")\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
