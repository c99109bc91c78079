"""Checks every task must pass, shared by the ``tests/tasks/test_*.py`` modules.

A task test trains one tiny run (a module-scoped fixture), then checks the hand-off the
contract promises: a complete run folder, ``predict`` giving one output per input, and
``evaluate`` writing its files, with numbers that match the run's own ``metrics.json``.
"""

import csv
import os

import pytest

from tfbig import run_folder
from tfbig.tasks import resolve_config

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "data")

# Small enough for a 2-core CPU, big enough to learn the shipped samples a little.
TINY = {"model.preset": "tiny", "train.batch_size": 32, "train.jit_compile": False,
        "train.schedule": "cosine", "train.warmup_steps": 10, "train.learning_rate": 3e-3,
        "data.validation_split": 0.05, "data.test_split": 0.2}


def sample_lines(name, count):
    """The first ``count`` lines of the shipped ``data/<name>``."""
    with open(os.path.join(SAMPLES, name), encoding="utf-8") as f:
        return [line for _, line in zip(range(count), f)]


def write_lines(path, lines):
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def train_run(tmp_path_factory, **overrides):
    """Train ``TINY`` + ``overrides`` into a fresh folder; ``(run_dir, summary)``."""
    from tfbig.runs.fit import train

    run_dir = str(tmp_path_factory.mktemp("run") / "run")
    config = resolve_config({**TINY, **overrides})
    return run_dir, train(config, run_dir, verbose=0)


def check_run_folder(run_dir, summary, assets):
    """Everything the contract lists, plus the task's ``assets``; metrics.json = summary."""
    for entry in ("config.json", "model.keras", "history.csv", "metrics.json",
                  "checkpoints/best.weights.h5", "checkpoints/last.weights.h5", "tensorboard",
                  "plots/history.png", "plots/learning_rate.png", *assets):
        assert os.path.exists(os.path.join(run_dir, entry)), entry
    assert not os.path.exists(os.path.join(run_dir, "backup"))
    assert run_folder.read_json(os.path.join(run_dir, "metrics.json")) == summary


def predict_lines(loaded, lines, **options):
    """``predict_texts`` of a ``load_run`` result: exactly one output string per line."""
    task, model = loaded
    outputs = task.predict_texts(model, lines, **options)
    assert len(outputs) == len(lines) and all(isinstance(o, str) for o in outputs)
    return outputs


def check_evaluate(run_dir, summary, tmp_path, plots=()):
    """``evaluate_run`` on the held-out split: its files, one row per example, and the
    same numbers as the run's ``metrics.json``."""
    from tfbig.evaluation.report import evaluate_run

    metrics, output_dir = evaluate_run(run_dir, output_dir=str(tmp_path / "eval"))
    assert metrics["data"] == "test"
    for key, value in summary["test"].items():
        assert metrics[key] == (pytest.approx(value, rel=1e-4, abs=1e-6)
                                if isinstance(value, float) else value), key
    for name in ("metrics.json", "predictions.tsv", "worst_examples.tsv", *plots):
        assert os.path.getsize(os.path.join(output_dir, name)) > 0, name
    with open(os.path.join(output_dir, "predictions.tsv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == metrics["examples"] and "loss" in rows[0]
    return metrics, rows
