"""``train.strategy=multiworker``: two worker processes on 127.0.0.1, each with its own
``TF_CONFIG``, train through ``tfbig.runs.fit`` (its ``strategy.run`` loop) and end with
identical weights; the chief's run folder is complete and holds nothing of the other
worker. And the strategies a machine cannot give fail with one line saying why."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from tasks.task_checks import sample_lines, write_lines

from tfbig.errors import TfbigError
from tfbig.tasks import resolve_config
from tfbig.training.distribute import get_strategy
from tfbig.training.multiworker_loop import worker_role

# A worker: train() with a callback that saves the final weights where the test reads them
# (the other worker's own folder is removed when the run ends).
WORKER = textwrap.dedent("""
    import os
    import sys

    import keras
    import numpy as np

    from tfbig.runs.fit import train
    from tfbig.tasks import resolve_config

    class SaveWeights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            np.savez(sys.argv[3].replace(".npz", "-initial.npz"), *self.model.get_weights())

        def on_train_end(self, logs=None):
            np.savez(sys.argv[3], *self.model.get_weights())

    overrides = {"task": "classify", "data.path": sys.argv[1], "train.strategy": "multiworker",
                 "model.preset": "tiny", "train.batch_size": 16, "train.steps_per_epoch": 3,
                 "train.epochs": 2, "train.jit_compile": False, "train.warmup_steps": 2,
                 "train.epoch_metrics_examples": 0, "data.vocab_size": 200}
    class StopAtEpoch(keras.callbacks.Callback):  # every worker killed at an epoch start
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == stop_at:  # as a kill: nothing of the process's own exit runs
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(3)

    settings = eval(sys.argv[4])
    stop_at = settings.pop("stop_at_epoch", None)
    overrides.update(settings)
    summary = train(resolve_config(overrides), sys.argv[2], verbose=2,
                    callbacks=[SaveWeights(), StopAtEpoch()])
    print("summary", sorted(summary))
""")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workers(tmp_path, data, run_dir, overrides="{}", workers=2, timeout=240,
                succeed=True):
    """Start ``workers`` processes of ``WORKER``; ``(results, weights, seconds)`` (with
    ``succeed=False``, ``(results, None, seconds)``)."""
    cluster = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    processes = []
    started = time.perf_counter()
    for index in range(workers):
        tf_config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "TF_CPP_MIN_LOG_LEVEL": "2",
               # One thread pool each: the two share the machine's cores.
               "TF_NUM_INTEROP_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"}
        processes.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, data, run_dir, str(tmp_path / f"weights{index}.npz"),
             overrides], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    results = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=timeout)
            results.append((process.returncode, stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    seconds = time.perf_counter() - started
    if not succeed:
        return results, None, seconds
    for index, (code, _, stderr) in enumerate(results):
        assert code == 0, f"worker {index}:\n{stderr[-4000:]}"
    return results, [load_weights(tmp_path / f"weights{index}.npz")
                     for index in range(workers)], seconds


def load_weights(path):
    saved = np.load(path)
    return [saved[f"arr_{index}"] for index in range(len(saved.files))]


@pytest.mark.slow
def test_two_workers_translate_killed_and_restarted_resume_to_identical_weights_and_one_run(
        tmp_path, capsys):
    """The encoder-decoder task under two workers on 127.0.0.1: teacher-forced (source,
    target) batches, the real-token step (logits only where the target has tokens) and BLEU
    on the chief's validation split. Both workers are killed at the start of epoch 2 (an
    ``os._exit``: nothing of their exit runs), then restarted with the same command: they
    resume there, exit 0 with bit-identical weights (synchronous data parallelism), and the
    chief's run folder is complete, holds nothing of the other worker, and is what
    ``predict`` and ``evaluate`` take. (One test for all: each two-worker launch costs about
    half a minute of CI.)"""
    from tfbig import evaluate, predict

    data = write_lines(tmp_path / "dates.tsv", sample_lines("dates.tsv", 200))
    run_dir = str(tmp_path / "run")
    # No test split: the chief decodes once, the validation split (its BLEU is checked).
    settings = {"task": "translate", "data.validation_split": 0.1, "data.test_split": 0.0}
    results, _, _ = run_workers(tmp_path, data, run_dir,
                                repr({**settings, "stop_at_epoch": 1}), succeed=False)
    assert [code for code, _, _ in results] == [3, 3]  # both killed at epoch 2's start
    assert ("devices: 2 workers × 1 CPU; strategy multiworker, 2 replicas, global batch 16 "
            "(8 a replica)") in results[0][2], results[0][2]
    assert os.path.isdir(os.path.join(run_dir, "backup"))
    assert os.path.isdir(os.path.join(run_dir, ".worker1", "backup"))  # its own, to resume
    results, (chief, other), seconds = run_workers(tmp_path, data, run_dir, repr(settings))
    print(f"two workers, resumed: {seconds:.1f} s")
    chief_log = results[0][2]
    assert "strategy multiworker, 2 replicas" in chief_log, chief_log
    assert "(resuming its interrupted run)" in chief_log
    assert "Epoch 1/2" not in chief_log and "Epoch 2/2" in chief_log
    assert "UNAVAILABLE" not in chief_log  # no worker left while another still worked
    assert len(chief) == len(other) > 0
    for a, b in zip(chief, other):
        np.testing.assert_array_equal(a, b)
    initial = load_weights(tmp_path / "weights0-initial.npz")  # as restored at the resume
    assert not all(np.array_equal(a, b) for a, b in zip(chief, initial))  # it trained
    for entry in ("config.json", "model.keras", "metrics.json", "history.csv",
                  "checkpoints/best.weights.h5", "checkpoints/last.weights.h5"):
        assert os.path.exists(os.path.join(run_dir, entry)), entry
    assert not os.path.exists(os.path.join(run_dir, "backup"))
    assert not any(entry.startswith(".worker") for entry in os.listdir(run_dir))  # removed
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert "val_loss" in lines[0] and [line.split(",")[0] for line in lines[1:]] == ["0", "1"]
    metrics = json.load(open(os.path.join(run_dir, "metrics.json"), encoding="utf-8"))
    assert {"bleu", "exact_match"} <= set(metrics["validation"]), metrics["validation"]

    inputs = write_lines(tmp_path / "inputs.txt", ["March 4, 2021\n", "the first of May 1990\n"])
    capsys.readouterr()
    predict.main(["--run", run_dir, "--input", inputs])
    assert len(capsys.readouterr().out.splitlines()) == 2
    # A data file of its own, small: what is checked is that evaluate takes the folder.
    evaluate.main(["--run", run_dir, "--data",
                   write_lines(tmp_path / "eval.tsv", sample_lines("dates.tsv", 20))])
    assert os.path.exists(os.path.join(run_dir, "eval", "metrics.json"))


def test_multiworker_without_tf_config_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(TfbigError, match=r"^train\.strategy=multiworker needs the TF_CONFIG "
                                         r"environment variable on every worker, e\.g\. "
                                         r"TF_CONFIG='\{\"cluster\".*index 0 is the chief"):
        get_strategy("multiworker")


@pytest.mark.parametrize("tf_config, message", [
    ("{not json", r"TF_CONFIG='\{not json' is not a cluster spec \(JSONDecodeError"),
    ('{"cluster": {"worker": ["a:1"]}}', r"is not a cluster spec \(KeyError: 'task'\)"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}',
     r"does not name one of the 1 workers of cluster\.worker"),
])
def test_a_malformed_tf_config_is_one_line(tf_config, message):
    with pytest.raises(TfbigError, match=message) as error:
        worker_role("run", environ={"TF_CONFIG": tf_config})
    assert "\n" not in str(error.value)


def test_workers_other_than_the_chief_write_their_own_folder_in_the_run_folder():
    cluster = '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": %d}}'
    chief = worker_role("runs/x", environ={"TF_CONFIG": cluster % 0})
    other = worker_role("runs/x", environ={"TF_CONFIG": cluster % 1})
    assert (chief.chief, chief.run_dir, chief.workers) == (True, "runs/x", 2)
    assert (other.chief, other.run_dir) == (False, os.path.join("runs/x", ".worker1"))


def test_time_budget_with_multiworker_is_refused_before_any_work(tmp_path, monkeypatch):
    from tfbig.runs.fit import train

    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1"]}, '
                                    '"task": {"type": "worker", "index": 0}}')
    data = write_lines(tmp_path / "reviews.tsv", sample_lines("reviews.tsv", 40))
    config = resolve_config({"task": "classify", "data.path": data, "train.batch_size": 8,
                             "train.strategy": "multiworker", "train.time_budget": 1.0})
    with pytest.raises(TfbigError, match=r"train\.time_budget does not work with "
                                         r"train\.strategy=multiworker"):
        train(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_tpu_without_a_tpu_is_one_line_naming_what_was_looked_for():
    with pytest.raises(TfbigError, match=r"^train\.strategy=tpu: no TPU found "
                                         r"\(TPUClusterResolver: .+\); on a Cloud TPU VM run "
                                         r"it there, else set TPU_NAME") as error:
        get_strategy("tpu")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("message, expected", [
    ("Graph execution error:\n\nAdditional GRPC error information from remote target "
     "/job:worker/replica:0/task:1 while calling /tensorflow.WorkerService/RecvBuf:\n"
     ":UNKNOWN:Error received from peer  {grpc_message:\"recvmsg:Connection reset by peer\"}",
     "worker 1 of the cluster stopped or cannot be reached (UnavailableError: Connection "
     "reset by peer); the run stops: start every worker again with the same command to resume "
     "from the last finished epoch"),
    ("Collective ops is aborted by: cluster check alive failed, /job:worker/replica:0/task:2 "
     "is down\nThe error could be from a previous operation.",
     "worker 2 of the cluster stopped or cannot be reached (UnavailableError: cluster check "
     "alive failed, /job:worker/replica:0/task:2 is down); the run stops"),
    ("something else", "a worker of the cluster stopped or cannot be reached "
                       "(UnavailableError); the run stops"),
])
def test_a_lost_worker_is_one_line_naming_it(monkeypatch, message, expected):
    import tensorflow as tf

    from tfbig.training import multiworker_loop

    def lose_a_worker(*args, **kwargs):
        raise tf.errors.UnavailableError(None, None, message)

    monkeypatch.setattr(multiworker_loop, "_fit", lose_a_worker)
    with pytest.raises(multiworker_loop.WorkerLost) as raised:
        multiworker_loop.fit_multiworker(None, None, None, None)
    assert str(raised.value).startswith(expected) and "\n" not in str(raised.value)


def test_the_cli_summary_of_a_non_chief_worker_is_one_line(capsys):
    """``python -m tfbig.train`` on worker 1 exits 0: its summary has no metrics (the chief
    writes them), so it says so instead of failing on the missing keys."""
    from tfbig.train import print_summary

    print_summary("runs/x/.worker1", {"train_seconds": 12.5, "worker": 1})
    assert capsys.readouterr().out.splitlines()[-1] == (
        "worker 1: trained for 12.5 s; the chief (worker 0) writes the run folder, its "
        "metrics and plots")
