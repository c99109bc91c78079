"""float32 vs mixed precision, each with and without XLA: throughput and MFU of a ~100M-parameter
Transformer on a GPU (or whatever device TensorFlow finds first).

    python benchmarks/gpu_precision.py [--steps 30] [--quick]
    python benchmarks/gpu_precision.py --size reference --steps 10   # a CPU: 4+4 layers, d 256

For anyone with a GPU; nothing here needs more than ``pip install -e .``. The model is
``tfbig.models.Transformer`` compiled as ``tfbig.train`` compiles it (``workloads.py``):
6 + 6 layers, d_model 512, dff 2048, 8 heads, 32k vocabulary (≈ 100M parameters), batches
of 64 × 128 tokens (synthetic, the model is measured, not the pipeline).

Rows: ``float32``, ``float32 + XLA``, the mixed policy ``--precision auto`` would pick here
(``mixed_float16`` on compute capability ≥ 7.0, ``mixed_bfloat16`` with ``--bf16``), and it
with XLA. ``--size reference`` measures the smaller model of ``train_throughput.py`` instead
(a CPU with bfloat16 matrix units, AMX, gets its mixed_bfloat16 row in minutes). Each: 5
warm-up steps (tracing, XLA compilation), then the median of ``--steps`` timed steps.
MFU = the step's matmul FLOPs (``analytic.train_step_flops``) / step time / the device's
matmul peak *measured now* in the row's compute dtype (a 4096² matmul, best of 10)
— never a constant from another machine (one such gave "147% MFU"). ``--quick``: a tiny
model and 5 steps, a smoke test that runs on a CPU too.
"""

import argparse
import statistics
import time

import analytic
import workloads
from workloads import Size

GPU_SIZE = Size(num_layers=6, d_model=512, num_heads=8, dff=2048, vocab=32000, batch=64,
                length=128)


def matmul_peak_tflops(dtype, n=4096, repeats=10):
    """Best ``n × n`` matmul rate of TensorFlow's first device in ``dtype``, in TFLOP/s."""
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(1, 2), dtype=dtype)
    multiply = tf.function(lambda x: tf.linalg.matmul(x, x))
    multiply(a).numpy()  # trace, warm up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        multiply(a).numpy()  # .numpy() waits for the device
        best = min(best, time.perf_counter() - started)
    return 2 * n ** 3 / best / 1e12


def measure(size, policy, jit_compile, steps):
    """Median step seconds of ``size`` trained under ``policy``."""
    import keras

    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = workloads.compile_for_training(workloads.build_model("tfbig", size), "tfbig", size,
                                           jit_compile=jit_compile)
    data = workloads.dataset(size)
    workloads.timed_fit(model, data, 5)  # tracing and compilation
    step = statistics.median(wall for wall, _ in workloads.timed_fit(model, data, steps))
    keras.backend.clear_session()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per row")
    parser.add_argument("--bf16", action="store_true",
                        help="mixed_bfloat16 instead of what --precision auto picks")
    parser.add_argument("--size", choices=("gpu", "reference"), default="gpu",
                        help="gpu: ≈100M parameters; reference: train_throughput's 4+4 layers, "
                             "d_model 256 (for a CPU)")
    parser.add_argument("--quick", action="store_true", help="a tiny model, 5 steps")
    args = parser.parse_args()
    import tensorflow as tf

    from tfbig.training.precision import resolve_precision

    size = {"gpu": GPU_SIZE, "reference": workloads.REFERENCE}[args.size]
    size, steps = (workloads.QUICK, 5) if args.quick else (size, args.steps)
    gpus = tf.config.list_physical_devices("GPU")
    device = (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
              if gpus else "CPU (no GPU found)")
    mixed = "mixed_bfloat16" if args.bf16 else resolve_precision(
        "auto", tf.distribute.get_strategy())[0]
    if mixed == "float32":
        mixed = "mixed_bfloat16"  # no float16-capable GPU: bfloat16 is the mixed row
    flops = analytic.train_step_flops(**size.flops_args())
    parameters = analytic.parameter_count(size.num_layers, size.d_model, size.dff,
                                          size.vocab, size.vocab)
    peaks = {"float32": matmul_peak_tflops(tf.float32),
             mixed: matmul_peak_tflops(tf.float16 if mixed == "mixed_float16" else tf.bfloat16)}
    print(f"{device}; {parameters / 1e6:.0f}M parameters; {size.batch} × {size.length} tokens "
          f"a step, {flops / 1e9:.0f} GFLOP; matmul peak now: "
          + ", ".join(f"{name} {peak:.1f} TFLOP/s" for name, peak in peaks.items()))
    print("| precision | XLA | step ms | tokens/s | TFLOP/s | MFU | vs float32 |\n"
          "| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    baseline = None
    for policy in ("float32", mixed):
        for jit_compile in (False, True):
            step = measure(size, policy, jit_compile, steps)
            baseline = baseline or step
            achieved = flops / step / 1e12
            print(f"| {policy} | {'on' if jit_compile else 'off'} | {step * 1e3:.1f} | "
                  f"{size.tokens_per_step / step:,.0f} | {achieved:.1f} | "
                  f"{achieved / peaks[policy]:.0%} | {baseline / step:.2f}× |",
                  flush=True)


if __name__ == "__main__":
    main()
