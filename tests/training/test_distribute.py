"""model.fit under MirroredStrategy on two logical CPUs, through the real training entry:
text-to-text and a classifier, the same losses as one device, and the CPU split."""

import os
import subprocess
import sys
import textwrap

import pytest
from tasks.task_checks import sample_lines, write_lines

pytestmark = pytest.mark.slow

# One process for all the runs: each process pays TensorFlow's start-up, and the classifier
# is then a second mirrored run in the process.
SCRIPT = textwrap.dedent("""
    import csv, json, os, sys
    from tfbig.tasks import resolve_config
    from tfbig.training.distribute import get_strategy
    from tfbig.runs.fit import train

    data, reviews, folder = sys.argv[1:4]
    losses, summaries = {}, {}
    for strategy, replicas in (("mirrored", 2), ("default", 0)):
        run_dir = os.path.join(folder, strategy)
        config = resolve_config({
            "data.path": data, "model.preset": "tiny", "model.dropout_rate": 0.0,
            "train.strategy": strategy, "train.cpu_replicas": replicas,
            "data.val_path": data.replace("train", "val"), "data.test_split": 0.0,
            "train.batch_size": 16, "train.steps_per_epoch": 1, "train.epochs": 5,
            "train.jit_compile": False, "train.epoch_metrics_examples": 0,
            "train.warmup_steps": 2, "train.learning_rate": 3e-3})
        summaries[strategy] = train(config, run_dir, verbose=0)
        with open(os.path.join(run_dir, "history.csv")) as f:
            rows = list(csv.DictReader(f))
        losses[strategy] = [[float(row[key]) for row in rows] for key in ("loss", "val_loss")]
    # A classifier's inputs hold a bool padding mask, which Keras' fit averages over the
    # replicas once to build the model (TensorFlow cannot sum bools): it must train too.
    # And it is a second mirrored run in one process (a notebook, a tuning worker): it
    # reuses the strategy (a new MirroredStrategy's collectives collide with the first one's).
    config = resolve_config({
        "task": "classify", "data.path": reviews, "model.preset": "tiny",
        "train.strategy": "mirrored", "train.batch_size": 16, "train.steps_per_epoch": 2,
        "train.epochs": 1, "train.jit_compile": False, "train.epoch_metrics_examples": 0})
    summary = train(config, os.path.join(folder, "classify"), verbose=0)
    print(json.dumps({"losses": losses,
                      "replicas": get_strategy("mirrored").num_replicas_in_sync,
                      "exact_match": summaries["mirrored"]["validation"]["exact_match"],
                      "accuracy": summary["test"]["accuracy"]}))
""")


def test_mirrored_on_two_cpu_replicas_follows_the_default_loss_trajectory_and_trains_a_classifier(
        tmp_path):
    """``train.cpu_replicas=2`` splits the CPU for ``mirrored``; at the same global batch
    (16: two replicas of 8) the text-to-text run takes the same steps as one device, and
    ends with its final metrics and ``model.keras``. Then a classifier trains under the same
    strategy in the same process. (One test: each process costs TensorFlow's start-up.)

    What may differ: dropout is off (each replica draws its own masks); every step is the
    whole training split (16 examples, one batch an epoch), because Keras' fit under a
    strategy starts one extra pass over the dataset to build the model, so a reshuffling
    pipeline feeds another order; targets have one length, so the mean of the two replicas'
    token means is the batch's token mean. What remains is the order of float32 sums, ~1e-7
    a step, which Adam amplifies: its update is about lr·sign(g), so a rounding that flips
    a near-zero gradient's sign moves a weight by a whole step (measured: 5e-7, 4e-5, 1e-3,
    1e-2 apart after 1, 2, 3, 4 updates). So the first two updates are checked to 1e-3 and
    the rest to 5%. A loss not divided by the replicas is 100% off at once; a wrong split or
    batch shows in the first losses (the loss moves by >0.1 a step here)."""
    import json

    import numpy as np

    for split, numbers in (("train", range(16)), ("val", range(100, 104))):
        (tmp_path / f"{split}.tsv").write_text(
            "".join(f"item {i:03d}\t{2 * i:04d}\n" for i in numbers), encoding="utf-8")
    reviews = write_lines(tmp_path / "reviews.tsv", sample_lines("reviews.tsv", 120))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "train.tsv"), reviews, str(tmp_path)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "16 train, 0 test" in result.stderr, result.stderr[-2000:]
    assert "strategy mirrored, 2 replicas, global batch 16 (8 a replica)" in result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["replicas"] == 2 and 0 <= output["exact_match"] <= 1
    assert 0 <= output["accuracy"] <= 1
    assert (tmp_path / "mirrored" / "model.keras").exists()
    assert (tmp_path / "classify" / "model.keras").exists()

    mirrored = np.array(output["losses"]["mirrored"])
    default = np.array(output["losses"]["default"])
    assert mirrored.shape == (2, 5)
    # Train loss of epoch k: after k updates; validation loss of epoch k: after k + 1.
    np.testing.assert_allclose(mirrored[0, :3], default[0, :3], rtol=1e-3)
    np.testing.assert_allclose(mirrored[1, :2], default[1, :2], rtol=1e-3)
    np.testing.assert_allclose(mirrored, default, rtol=0.05)
    assert abs(default[0, 0] - default[0, -1]) > 0.1  # it trained: the check has teeth


def test_cpu_replicas_after_the_devices_are_set_up_is_one_line_saying_so():
    # In pytest's own process, whose CPU no test splits (the runs above split theirs in a
    # process of their own): once anything has run, its devices are one logical CPU.
    import tensorflow as tf

    from tfbig.errors import TfbigError
    from tfbig.training.distribute import get_strategy

    tf.constant(1.0) + 1.0  # the devices are set up now
    with pytest.raises(TfbigError) as error:
        get_strategy("mirrored", cpu_replicas=2)
    assert str(error.value).startswith(
        "train.cpu_replicas=2: TensorFlow already set up this process's devices (1 logical "
        "CPU); the CPU must be split before anything runs on it: start a new process"), error
    assert "\n" not in str(error.value)
