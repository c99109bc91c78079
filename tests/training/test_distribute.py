"""model.fit under MirroredStrategy on two logical CPUs, through the real training entry."""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from tfbig import config as config_lib
    from tfbig.tasks import resolve_config
    from tfbig.training.distribute import get_strategy
    from tfbig.runs.fit import train

    assert get_strategy("mirrored").num_replicas_in_sync == 2
    data, run_dir = sys.argv[1], sys.argv[2]
    config = resolve_config({
        "data.path": data, "model.preset": "tiny", "train.strategy": "mirrored",
        "train.batch_size": 16, "train.steps_per_epoch": 2, "train.epochs": 2,
        "train.jit_compile": False})
    summary = train(config, run_dir, verbose=0)
    print("replicas", get_strategy("mirrored").num_replicas_in_sync,
          "exact_match", summary["test"]["exact_match"])
""")


def test_mirrored_strategy_trains_with_fit_on_two_replicas(tmp_path):
    lines = "".join(f"item {i}\t{i * 2}\n" for i in range(120))
    data = tmp_path / "double.tsv"
    data.write_text(lines, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data), str(tmp_path / "run")],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2 exact_match" in result.stdout
    assert (tmp_path / "run" / "model.keras").exists()
