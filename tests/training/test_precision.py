"""``train.precision``: what ``auto`` picks on which devices, and every task training under
``mixed_float16`` and ``mixed_bfloat16`` (float32 variables, a finite loss, a saved model
whose outputs are float32 when loaded in a float32 process)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tasks.task_checks import SAMPLES, sample_lines, write_lines

from tfbig.config_fields import TrainConfig
from tfbig.inference import load_model
from tfbig.tasks import AVAILABLE, get_task, resolve_config
from tfbig.training.optimizers import build_optimizer
from tfbig.training.precision import choose_precision, describe_precision, resolve_precision


@pytest.mark.parametrize("on_tpu, capabilities, expected", [
    (True, [], ("mixed_bfloat16", "TPU")),
    (False, [(8, 0)], ("mixed_float16", "GPU of compute capability 8.0")),
    (False, [(7, 0), (7, 5)], ("mixed_float16", "GPU of compute capability 7.0")),
    # One older card among several: its float16 has no tensor cores.
    (False, [(8, 6), (6, 1)], ("float32", "GPU of compute capability 6.1, below 7.0")),
    (False, [None], ("float32", "GPU of compute capability unknown, below 7.0")),
    (False, [], ("float32", "no GPU or TPU")),
])
def test_auto_picks_what_the_devices_compute_natively(on_tpu, capabilities, expected):
    assert choose_precision("auto", on_tpu, capabilities) == expected


@pytest.mark.parametrize("name", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_an_explicit_precision_is_kept_on_any_device(name):
    assert choose_precision(name, on_tpu=True, gpu_capabilities=[(9, 0)]) == (name, "")


def test_resolution_reads_the_gpus_compute_capability(monkeypatch):
    gpus = ["GPU:0", "GPU:1"]
    details = {"GPU:0": {"compute_capability": (8, 0), "device_name": "A100"},
               "GPU:1": {"compute_capability": (8, 0), "device_name": "A100"}}
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details", details.get)
    strategy = tf.distribute.get_strategy()
    assert resolve_precision("auto", strategy) == ("mixed_float16",
                                                   "GPU of compute capability 8.0")
    details["GPU:1"] = {"compute_capability": (6, 0)}
    assert resolve_precision("auto", strategy)[0] == "float32"
    gpus.clear()
    assert resolve_precision("auto", strategy) == ("float32", "no GPU or TPU")


def test_the_start_line_says_what_auto_chose():
    assert (describe_precision("mixed_float16", "GPU of compute capability 8.0")
            == "precision mixed_float16 (auto: GPU of compute capability 8.0)")
    assert describe_precision("float32", "") == "precision float32"


def test_auto_is_the_default_and_accepted_from_the_flag():
    assert TrainConfig().precision == "auto"
    assert resolve_config({"train.precision": "mixed_bfloat16"}).train.precision == (
        "mixed_bfloat16")


@pytest.fixture(scope="module")
def task_data(tmp_path_factory):
    """A small data file (or folder) of each task's shipped sample."""
    folder = tmp_path_factory.mktemp("data")
    files = {"translate": ("dates.tsv", 80), "classify": ("reviews.tsv", 80),
             "lm": ("corpus.txt", 80), "mlm": ("corpus.txt", 80)}
    data = {task: write_lines(folder / f"{task}-{name}", sample_lines(name, count))
            for task, (name, count) in files.items()}
    data["image"] = os.path.join(SAMPLES, "shapes")
    data["audio"] = os.path.join(SAMPLES, "audio")
    return data


@pytest.mark.slow
@pytest.mark.parametrize("task_name", AVAILABLE)
def test_every_task_trains_under_mixed_precision(task_name, task_data, tmp_path):
    if task_name not in task_data:
        pytest.fail(f"no tiny data for the task {task_name!r}: add it to task_data")
    config = resolve_config({"task": task_name, "data.path": task_data[task_name],
                             "model.preset": "tiny", "train.batch_size": 8,
                             "data.image_size": 8, "data.vocab_size": 100})
    task = get_task(config)
    splits, _ = task.load_splits()
    task.learn_assets(splits["train"])
    task.resolve_lengths(splits["train"])
    batches = task.dataset(splits["train"], training=True).take(2)
    inputs = next(iter(batches))[0]
    for precision in ("mixed_float16", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(precision)
        try:
            keras.utils.set_random_seed(0)
            model = task.build_model()
            loss, metrics = task.loss_and_metrics()
            # Eager: the same losses and casts, without tracing two steps (3× faster here).
            model.compile(optimizer=build_optimizer(config.train, config.model.d_model, 10),
                          loss=loss, metrics=metrics, run_eagerly=True)
            history = model.fit(batches, epochs=1, verbose=0)
            path = str(tmp_path / f"{precision}.keras")
            model.save(path)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        assert np.isfinite(history.history["loss"][0]), precision
        assert all(v.dtype == "float32" for v in model.trainable_variables), precision
        # As predict/evaluate load it: a fresh float32 process.
        loaded = load_model(path)
        outputs = loaded(inputs, training=False)
        for output in tf.nest.flatten(outputs):
            assert output.dtype == tf.float32, (precision, output.dtype)
            assert np.isfinite(output.numpy()).all(), precision
        assert loaded.dtype_policy.name == precision
