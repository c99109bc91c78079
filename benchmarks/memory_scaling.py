"""Peak memory of training, and how speed and memory scale with sequence length and width.

    python benchmarks/memory_scaling.py [--quick] [--plot docs/scaling.png]

Each point runs in a fresh Python process (``train_throughput.py --worker``) so that
``getrusage(RUSAGE_SELF).ru_maxrss`` is that configuration's own peak. The runtime's share
(Python + TensorFlow + Keras imported, nothing built) is measured in the same process and
subtracted before comparing with the analytic estimate
(params + grads + Adam slots + activations, ``analytic.training_memory_estimate``).

Sequence-length sweep: 64 … 1024 at d_model 256, batch cut so that batch × length stays
2048 tokens per step. Width sweep: d_model 128 / 256 / 512 (dff = 4·d, 8 heads) at the
reference batch and length.
"""

import argparse
import dataclasses
import sys

import analytic
import train_throughput
import workloads

LENGTHS = (64, 128, 256, 512, 1024)
WIDTHS = (128, 256, 512)
QUICK_LENGTHS = (16, 32)
QUICK_WIDTHS = (32, 64)


def estimate_mib(size):
    estimate = analytic.training_memory_estimate(
        size.num_layers, size.d_model, size.dff, size.num_heads, size.vocab, size.batch,
        size.length, size.length)
    return {name: value / 2 ** 20 for name, value in estimate.items()}


def with_estimate(result, size):
    """Add the analytic estimate and the measured model share (peak − runtime)."""
    if "error" not in result:
        result["model_mib"] = result["peak_rss_mib"] - result["rss_runtime_mib"]
        result["estimate_mib"] = estimate_mib(size)
        result["mfu"] = (result["tokens_per_s"] / size.tokens_per_step
                         * analytic.train_step_flops(**size.flops_args())
                         / (workloads.PEAK_GFLOPS * 1e9))
    return result


def peak_memory(names, size, steps, log=print):
    """Each training config at ``size`` in its own process → ``{name: result}``."""
    results = {}
    for name in names:
        results[name] = with_estimate(train_throughput.run_worker(name, size, steps), size)
        log(f"  memory {name}: {_describe(results[name])}")
    return results


def sweep_sizes(size, lengths, widths):
    """``[(axis, value, Size)]`` of the sweep; the reference point appears in both axes."""
    tokens = size.tokens_per_step
    points = [("length", length, dataclasses.replace(size, length=length,
                                                     batch=max(1, tokens // length)))
              for length in lengths]
    points += [("width", width, dataclasses.replace(size, d_model=width, dff=4 * width))
               for width in widths]
    return points


def sweep(name, size, lengths, widths, steps, known=None, log=print):
    """Run ``name`` at every sweep point (reusing ``known`` results of the same Size)."""
    known = dict(known or {})
    rows = []
    for axis, value, point in sweep_sizes(size, lengths, widths):
        key = tuple(sorted(point.__dict__.items()))
        if key not in known:
            known[key] = with_estimate(train_throughput.run_worker(name, point, steps), point)
            log(f"  scaling {axis}={value}: {_describe(known[key])}")
        rows.append(dict(axis=axis, value=value, batch=point.batch, **known[key]))
    return rows


def _describe(result):
    if "error" in result:
        return "ERROR " + result["error"]
    return (f"{result['tokens_per_s']:.0f} tok/s, peak RSS {result['peak_rss_mib']:.0f} MiB "
            f"(runtime {result['rss_runtime_mib']:.0f}, estimate "
            f"{result['estimate_mib']['total']:.0f})")


def plot(rows, path, title):
    """Tokens/s and peak memory against sequence length and against width, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 7), layout="constrained")
    axes = figure.subplots(2, 2)
    for column, (axis, label) in enumerate((("length", "sequence length (batch × length "
                                                       "= const)"),
                                            ("width", "d_model (dff = 4·d_model)"))):
        points = [row for row in rows if row["axis"] == axis and "error" not in row]
        x = [row["value"] for row in points]
        speed, memory = axes[0][column], axes[1][column]
        speed.plot(x, [row["tokens_per_s"] for row in points], "o-", label="tokens/s (best)")
        speed.plot(x, [row["tokens_per_s_median"] for row in points], "x--", alpha=0.6,
                   label="tokens/s (median)")
        speed.set_ylabel("training tokens / s")
        for row in points:
            speed.annotate(f"MFU {100 * row['mfu']:.0f}%", (row["value"], row["tokens_per_s"]),
                           textcoords="offset points", xytext=(0, 6), fontsize=8,
                           ha="center")
        memory.plot(x, [row["peak_rss_mib"] for row in points], "o-", label="peak RSS")
        memory.plot(x, [row["peak_rss_mib"] - row["rss_runtime_mib"] for row in points], "s-",
                    label="peak RSS − runtime")
        memory.plot(x, [row["estimate_mib"]["total"] for row in points], "^--",
                    label="estimate: params+grads+Adam+activations")
        memory.set_ylabel("MiB")
        for ax in (speed, memory):
            ax.set_xscale("log", base=2)
            ax.set_xticks(x, [str(v) for v in x])
            ax.set_xlabel(label)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    figure.suptitle(title)
    figure.savefig(path, dpi=110)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--config", default="tfbig")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--plot", default=None, help="write the scaling plot here (PNG)")
    args = parser.parse_args(argv)
    size = workloads.QUICK if args.quick else workloads.REFERENCE
    lengths, widths = (QUICK_LENGTHS, QUICK_WIDTHS) if args.quick else (LENGTHS, WIDTHS)
    rows = sweep(args.config, size, lengths, widths, args.steps)
    if args.plot:
        plot(rows, args.plot, f"{args.config}: training throughput and peak memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
