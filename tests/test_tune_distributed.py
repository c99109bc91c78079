"""A distributed ``python -m tfbig.tune``: keras-tuner's variables and their errors; a chief
and two worker processes on 127.0.0.1 share a 2 × 2 grid (every trial once, only the chief
writes the search folder); a worker killed mid-search stops the chief with a one-line error
within --worker-timeout."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from tfbig.cli import run
from tfbig.errors import TfbigError
from tfbig.tuning.search import ENTRIES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIABLES = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


def write_config(tmp_path):
    """A tiny classify search (Kim's CNN, 2 steps) over 2 learning rates × 2 batch sizes."""
    with open(os.path.join(REPO, "data", "reviews.tsv"), encoding="utf-8") as f:
        (tmp_path / "reviews.tsv").write_text("".join(line for _, line in zip(range(200), f)),
                                              encoding="utf-8")
    config = {"task": "classify", "model": {"name": "cnn", "preset": "tiny"},
              "data": {"path": str(tmp_path / "reviews.tsv")},
              "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 16,
                        "jit_compile": False, "warmup_steps": 1, "epoch_metrics_examples": 0},
              "search_space": {"learning_rate": [1e-3, 1e-2], "batch_size": [8, 16]}}
    (tmp_path / "tune.json").write_text(json.dumps(config), encoding="utf-8")
    return str(tmp_path / "tune.json")


# ---------------------------------------------------------------- variables and flags


@pytest.mark.parametrize("variables, expected", [
    ({}, None),
    ({"KERASTUNER_TUNER_ID": "chief"}, None),  # no oracle address: one process
    ({"KERASTUNER_TUNER_ID": "chief", "KERASTUNER_ORACLE_IP": "127.0.0.1",
      "KERASTUNER_ORACLE_PORT": "8000"}, "chief"),
    ({"KERASTUNER_TUNER_ID": "tuner1", "KERASTUNER_ORACLE_IP": "127.0.0.1",
      "KERASTUNER_ORACLE_PORT": "8000"}, "worker"),
])
def test_the_role_comes_from_keras_tuners_variables(monkeypatch, variables, expected):
    from tfbig.tuning.distributed import role

    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert role() == expected


@pytest.mark.parametrize("variables, pattern", [
    ({"KERASTUNER_ORACLE_IP": "127.0.0.1"},
     r"KERASTUNER_ORACLE_IP is set but not KERASTUNER_ORACLE_PORT nor KERASTUNER_TUNER_ID: "
     r"a distributed search needs all three \(KERASTUNER_TUNER_ID=chief on one process"),
    ({"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "80a",
      "KERASTUNER_TUNER_ID": "tuner0"},
     r"KERASTUNER_ORACLE_PORT='80a': expected a port number"),
])
def test_incomplete_variables_are_one_line_errors(monkeypatch, variables, pattern):
    from tfbig.tuning.distributed import role

    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TfbigError, match=pattern):
        role()


@pytest.mark.parametrize("args, pattern", [
    (["--strategy", "multiworker"],
     r"train\.strategy=multiworker: a trial trains in one process; use mirrored \(or auto\) "
     r"for the GPUs of one machine, and a distributed search \(KERASTUNER_TUNER_ID, "),
    (["--worker-timeout", "0"], r"--worker-timeout 0: expected seconds > 0"),
])
def test_bad_distributed_usage_exits_2_with_one_line(tmp_path, capsys, monkeypatch, args,
                                                      pattern):
    from tfbig.tune import main

    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    argv = ["--config", write_config(tmp_path), "--output", str(tmp_path / "t"), *args]
    assert run(main, argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and re.search(pattern, lines[0]), lines
    assert not (tmp_path / "t").exists()


# ------------------------------------------------------------ a chief and its workers


@pytest.fixture
def search(tmp_path):
    """A launcher of the search's processes on a free port of 127.0.0.1:
    ``start(tuner_id, *flags)``; ``start.log(tuner_id)``, ``start.wait_for(tuner_id,
    pattern)``; every process is killed at the end."""
    write_config(tmp_path)
    with socket.socket() as s:  # a free port (released for the chief to take)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "tmp").mkdir()
    processes = {}

    def start(tuner_id, *flags):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERASTUNER_TUNER_ID": tuner_id,
               "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port),
               "TMPDIR": str(tmp_path / "tmp")}  # where the workers' trial folders go
        log = open(tmp_path / f"{tuner_id}.log", "w", encoding="utf-8")
        processes[tuner_id] = subprocess.Popen(
            [sys.executable, "-m", "tfbig.tune", "--config", str(tmp_path / "tune.json"),
             "--output", str(tmp_path / "search"), *flags],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        log.close()
        return processes[tuner_id]

    start.log = lambda tuner_id: (tmp_path / f"{tuner_id}.log").read_text(encoding="utf-8")

    def wait_for(tuner_id, pattern, timeout=120):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, start.log(tuner_id), re.M):
            assert processes[tuner_id].poll() is None, start.log(tuner_id)
            assert time.monotonic() < deadline, start.log(tuner_id)
            time.sleep(0.2)

    start.wait_for = wait_for
    try:
        yield start
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.mark.slow
def test_a_chief_and_two_workers_run_every_trial_once(search, tmp_path):
    chief = search("chief")
    workers = [search("tuner0"), search("tuner1")]
    for process in (*workers, chief):
        process.wait(timeout=300)
    for tuner_id, process in zip(("tuner0", "tuner1", "chief"), (*workers, chief)):
        assert process.returncode == 0, search.log(tuner_id)

    # Every trial of the grid trained once, on one of the workers; the chief trained none.
    started = [trial for tuner_id in ("tuner0", "tuner1")
               for trial in re.findall(r"^trial (\d{4}): \S+=", search.log(tuner_id), re.M)]
    assert sorted(started) == ["0000", "0001", "0002", "0003"], started
    assert not re.search(r"^trial \d{4}: \S+=", search.log("chief"), re.M)
    assert "the chief writes the results" in search.log("tuner0")

    # The chief's folder is a complete search folder, with nothing of the workers in it.
    output = tmp_path / "search"
    assert sorted(os.listdir(output)) == sorted(ENTRIES)
    with open(output / "results.csv", encoding="utf-8") as f:
        header, *rows = [line.split(",") for line in f.read().splitlines()]
    columns = {name: i for i, name in enumerate(header)}
    assert all(row[columns["status"]] == "COMPLETED" for row in rows) and len(rows) == 4
    assert len({(row[columns["train.learning_rate"]], row[columns["train.batch_size"]])
                for row in rows}) == 4
    assert all(0 <= float(row[columns["mean"]]) <= 1 and float(row[columns["seconds"]]) > 0
               for row in rows)
    assert (output / "best" / "model.keras").exists()
    assert json.loads((output / "best_config.json").read_text())["search_space"] == {}
    search_files = {os.path.relpath(os.path.join(root, name), output / "search")
                    for root, _, names in os.walk(output / "search") for name in names}
    assert search_files == {"oracle.json", "chief.json",
                            *(f"trial_000{i}/trial.json" for i in range(4))}
    assert not [name for root, _, names in os.walk(output) for name in names
                if name.endswith(".tmp")]
    assert os.listdir(tmp_path / "tmp") == []  # the workers removed their trial folders


@pytest.mark.slow
def test_a_killed_worker_stops_the_chief_with_one_line_within_the_timeout(search, tmp_path):
    timeout = 8
    # Both start at once (their TensorFlow start-ups overlap): the worker waits for the chief.
    chief = search("chief", "--worker-timeout", str(timeout))
    worker = search("tuner0", "--worker-timeout", str(timeout))
    search.wait_for("tuner0", r"^trial 0000: \S+=")  # its first trial has started
    assert re.search(r"^chief: serving the search", search.log("chief"), re.M)
    worker.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    chief.wait(timeout=timeout + 60)
    assert time.monotonic() - killed < timeout + 15
    assert chief.returncode not in (0, None)
    log = search.log("chief")
    errors = [line for line in log.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in log, log
    assert re.match(r"error: LostContact: worker tuner0 sent nothing for \d+ s while running "
                    r"trial 0000 \(it crashed, hangs or lost the network; --worker-timeout 8\)",
                    errors[0]), errors[0]
    # What the search has so far is written, and the same commands resume it.
    with open(tmp_path / "search" / "results.csv", encoding="utf-8") as f:
        assert ",RUNNING," in f.read()
