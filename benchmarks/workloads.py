"""What the benchmarks run: sizes, synthetic batches, the models under test, the timer.

Every model is built here, so the training, generation, memory and scaling benchmarks all
compare the same things:

* ``baseline`` — the TensorFlow tutorial's Transformer (``baseline_tutorial.py``);
* ``tfbig`` — ``tfbig.models.Transformer`` through its public constructor, compiled with
  ``MaskedSparseCrossentropy``, ``MaskedAccuracy`` and ``build_optimizer(TrainConfig())``
  (AdamW, weight decay, global-norm clipping, the paper's schedule) — what ``tfbig.train``
  runs;
* ``tfbig`` with a prototype part from ``prototypes.py`` swapped in;
* ``kerashub`` — the same model from KerasHub's ``TransformerEncoder`` /
  ``TransformerDecoder`` (``kerashub_baseline.py``), compiled like the tutorial baseline;
  only where ``keras_hub`` imports (:func:`unavailable` says why not; it is not a tfbig
  dependency).
"""

import dataclasses
import os
import platform
import resource
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tfbig before TensorFlow, as its users get it: on x86-64 CPUs without AVX-512 this turns on
# TensorFlow's oneDNN kernels (tfbig.cpu_kernels) for every row of a run, baselines included,
# so the side-by-side ratios compare implementations, not kernel libraries. The "TF
# defaults" rows run in a separate process with TF_ENABLE_ONEDNN_OPTS=0.
import tfbig  # noqa: E402,F401


@dataclasses.dataclass(frozen=True)
class Size:
    num_layers: int = 4  # encoder layers and decoder layers (each)
    d_model: int = 256  # model width
    num_heads: int = 8  # attention heads
    dff: int = 1024  # feed-forward inner size
    vocab: int = 8000  # source and target vocabulary
    batch: int = 32  # sequences per step
    length: int = 64  # source length = target length
    dropout: float = 0.1  # every dropout (embedding, residual, attention weights)

    @property
    def tokens_per_step(self):
        """Target tokens per training step: batch × target length (padding included)."""
        return self.batch * self.length

    def flops_args(self):
        return dict(num_layers=self.num_layers, d_model=self.d_model, dff=self.dff,
                    vocab=self.vocab, batch=self.batch, source_length=self.length,
                    target_length=self.length)


REFERENCE = Size()
QUICK = Size(num_layers=1, d_model=64, num_heads=4, dff=256, vocab=1000, batch=8, length=16)

PEAK_GFLOPS = 160.0  # float32 matmul peak of this machine class (numpy / XLA at 2048²)


def synthetic_batch(size, seed=0):
    """``((source, target_in), target_out)`` int32 ids, rows padded to random lengths.

    Lengths are uniform in ``[length / 2, length]`` (about 25% padding), so masks and
    padding matter; tokens are counted as ``batch × length`` all the same.
    """
    import numpy as np

    rng = np.random.default_rng(seed)

    def ids(length):
        x = rng.integers(1, size.vocab, (size.batch, length)).astype("int32")
        for row, keep in enumerate(rng.integers(length // 2, length + 1, size.batch)):
            x[row, keep:] = 0
        return x

    source, target = ids(size.length), ids(size.length + 1)
    return (source, target[:, :-1]), target[:, 1:]


def dataset(size, seed=0):
    """One synthetic batch, repeated forever (the model is measured, not the pipeline).

    tf.data autotuning is off: with it on, a ``fit`` call over this dataset sometimes
    returned only ~2.56 s (or 5.12 s) after its last step — the call's total rounded up to
    a multiple of 2.56 s while the steps inside were unchanged. Steps are timed inside
    ``fit`` anyway (:class:`StepTimer`); this keeps the benchmark's own wall time down.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return tf.data.Dataset.from_tensors(synthetic_batch(size, seed)).repeat().with_options(
        options)


def step_timer():
    """A Keras callback timing each train step inside ``fit`` (wall and process CPU).

    ``fit`` calls ``on_train_batch_begin`` right before and ``on_train_batch_end`` right
    after each compiled train function call (``steps_per_execution`` steps), so the samples
    exclude ``fit``'s own set-up and tear-down. The callback is not ``async_safe``, so Keras
    calls it synchronously.
    """
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.samples = []  # (wall seconds, cpu seconds) per train step

        def on_train_batch_begin(self, batch, logs=None):
            self._begin = (batch, time.perf_counter(), time.process_time())

        def on_train_batch_end(self, batch, logs=None):
            first, wall, cpu = self._begin
            steps = batch - first + 1  # steps_per_execution steps per call
            sample = ((time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps)
            self.samples += [sample] * steps

    return StepTimer()


def timed_fit(model, data, steps):
    """Run ``model.fit`` for ``steps`` steps; → ``[(wall, cpu)]`` seconds per step."""
    timer = step_timer()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[timer])
    return timer.samples


def tfbig_arguments(size):
    """The public constructor arguments of ``tfbig.models.Transformer`` for ``size``."""
    return dict(num_layers=size.num_layers, d_model=size.d_model, num_heads=size.num_heads,
                dff=size.dff, input_vocab_size=size.vocab, target_vocab_size=size.vocab,
                dropout_rate=size.dropout)


def unavailable(kind):
    """``None`` if models of ``kind`` can be built here, else why not (one line).

    Only ``"kerashub"`` and ``"pytorch"`` can be missing: ``keras_hub`` and ``torch`` are
    optional extras of the benchmarks, so their rows are skipped (with this reason printed)
    where they are absent.
    """
    if kind == "kerashub":
        import kerashub_baseline

        return kerashub_baseline.unavailable()
    if kind == "pytorch":
        import pytorch_baseline

        return pytorch_baseline.unavailable()
    return None


def kerashub_max_length(size):
    """Position-table length of the KerasHub model: the training length, and room for
    the generation benchmark's ``1 + new tokens`` target positions."""
    return 2 * size.length


def build_model(kind, size, attention=None):
    """An unbuilt model: ``kind`` is ``"baseline"``, ``"baseline as written"`` (the tutorial's
    ``call`` without ``training``: no dropout under ``fit``), ``"kerashub"`` or ``"tfbig"``
    (with prototype parts)."""
    if kind.startswith("baseline"):
        import baseline_tutorial

        return baseline_tutorial.build(**tfbig_arguments(size),
                                       as_written=kind == "baseline as written")
    if kind == "kerashub":
        import kerashub_baseline

        return kerashub_baseline.build(**tfbig_arguments(size),
                                       max_length=kerashub_max_length(size))
    import prototypes

    return prototypes.build_transformer(attention, **tfbig_arguments(size))


def compile_for_training(model, kind, size, jit_compile=False, steps_per_execution=1,
                         gather_loss=False):
    """Compile as the tutorial does (baseline, kerashub) or as ``tfbig.train`` does (tfbig)."""
    if kind in ("baseline", "baseline as written", "kerashub"):
        import baseline_tutorial

        (source, target), _ = synthetic_batch(size)
        model((source[:1], target[:1]))  # create the weights (a subclassed model)
        baseline_tutorial.compile_like_tutorial(model, size.d_model, jit_compile,
                                                steps_per_execution)
        model.optimizer.build(model.trainable_variables)  # only to trace faster
        return model
    import prototypes
    from tfbig.config import TrainConfig
    from tfbig.metrics import MaskedAccuracy
    from tfbig.training.optimizers import build_optimizer

    # TrainConfig's defaults except label smoothing: the tutorial's loss has none either.
    loss = (prototypes.GatherMaskedSparseCrossentropy() if gather_loss
            else prototypes.MaskedSparseCrossentropy())
    model.build(((None, size.length), (None, size.length)))
    model.compile(optimizer=build_optimizer(TrainConfig(), size.d_model, 10_000), loss=loss,
                  metrics=[MaskedAccuracy()], jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    # As tfbig.runs.fit does: slots made outside the first trace keep tracing fast.
    model.optimizer.build(model.trainable_variables)
    return model


def peak_rss_mib():
    """This process's peak resident set size so far, in MiB.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux) is the obvious call, but Linux keeps
    it across ``fork``/``exec``: a worker started by a parent holding 1.5 GB of models
    reports at least 1.5 GB before it allocates anything. ``VmHWM`` in ``/proc/self/status``
    is the high-water mark of this process's own address space (reset by ``exec``); it is
    the same number as ``ru_maxrss`` for a process started from a small parent, and is used
    where available.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ru_maxrss_mib():
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (see :func:`peak_rss_mib` for the caveat)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timings:
    """Wall and CPU seconds per unit of work, one sample per interleaved round."""

    def __init__(self):
        self.wall, self.cpu = [], []

    def measure(self, function, units=1):
        """Time ``function()``; if it returns ``[(wall, cpu), ...]`` (e.g. :func:`timed_fit`)
        those samples are kept instead of the call's own time."""
        started, cpu_started = time.perf_counter(), time.process_time()
        samples = function()
        if isinstance(samples, list) and samples and isinstance(samples[0], tuple):
            for wall, cpu in samples:
                self.wall.append(wall)
                self.cpu.append(cpu)
            return
        self.wall.append((time.perf_counter() - started) / units)
        self.cpu.append((time.process_time() - cpu_started) / units)

    @property
    def best(self):
        """The least disturbed sample: other jobs only ever add time."""
        return min(self.wall)

    @property
    def median(self):
        return statistics.median(self.wall)

    @property
    def cpu_best(self):
        return min(self.cpu)

    @property
    def cpu_median(self):
        return statistics.median(self.cpu)


def worker_row(name, size, timing, rss_runtime, compile_seconds, **extra):
    """The result of one config timed in a fresh process (``train_throughput --worker``):
    tokens/s, CPU seconds and peak RSS (MiB), plus ``extra`` fields."""
    return dict(name=name, size=size.__dict__, rss_runtime_mib=rss_runtime,
                peak_rss_mib=peak_rss_mib(), ru_maxrss_mib=ru_maxrss_mib(),
                seconds_best=timing.best, seconds_median=timing.median,
                cpu_seconds=timing.cpu_best, cpu_seconds_median=timing.cpu_median,
                tokens_per_s=size.tokens_per_step / timing.best,
                tokens_per_s_median=size.tokens_per_step / timing.median,
                compile_seconds=compile_seconds, separate_process=True, **extra)


def interleave(jobs, rounds):
    """Run ``{name: (function, units)}`` round-robin ``rounds`` times, rotating the order
    each round so no job always follows the same neighbour; → ``{name: Timings}``."""
    names = list(jobs)
    timings = {name: Timings() for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            function, units = jobs[name]
            timings[name].measure(function, units)
    return timings


def machine_description():
    """CPU model, cores, library versions: the header of every report."""
    import keras
    import numpy
    import tensorflow as tf

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from tfbig.cpu_kernels import onednn_enabled

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__, "onednn": onednn_enabled(),
            "load_average": os.getloadavg()}


def matmul_peak_gflops(n=2048, repeats=7):
    """Best float32 ``n × n`` numpy matmul rate: the machine's usable peak, right now."""
    import numpy as np

    a = np.random.default_rng(0).random((n, n), dtype="float32")
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - started)
    return 2 * n ** 3 / best / 1e9
