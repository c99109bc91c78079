"""The command-line contract: fast --help, `error: ...` + exit 2 on bad input, and a real
train → predict round trip on a user's file, all through subprocesses as a user runs them."""

import os
import subprocess
import sys

import pytest

COMMANDS = ("train", "predict")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def tfbig(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          input=stdin, env=ENV, timeout=600)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_does_not_import_tensorflow(command):
    code = (f"import sys; from tfbig.{command} import build_parser; build_parser().format_help()"
            f"; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    result = tfbig(f"tfbig.{command}", "--help")
    assert result.returncode == 0 and "usage: python -m tfbig." in result.stdout


def test_version():
    result = tfbig("tfbig", "--version")
    assert result.returncode == 0 and result.stdout.startswith("tfbig ")


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def assert_usage_error(result, pattern):
    import re

    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and re.search(pattern, lines[0]), result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_file(tmp_path):
    result = tfbig("tfbig.train", "--data", str(tmp_path / "absent.tsv"),
                   "--output", str(tmp_path / "run"))
    assert_usage_error(result, r"absent\.tsv: no such file \(expected a TSV of source<TAB>")
    assert not (tmp_path / "run").exists()


def test_extra_and_missing_columns_name_the_line(tmp_path):
    three = write(tmp_path / "three.tsv", "one\tuno\ntwo\tdos\tdrei\n")
    result = tfbig("tfbig.train", "--task", "translate", "--data", three,
                   "--output", str(tmp_path / "r1"))
    assert_usage_error(result, r"three\.tsv:2: expected 2 tab-separated fields .*found 3")
    one = write(tmp_path / "one.tsv", "hello\n")
    result = tfbig("tfbig.train", "--data", one, "--output", str(tmp_path / "r2"))
    assert_usage_error(result, r"one\.tsv:1: expected 2 tab-separated fields .*found 1")


@pytest.mark.parametrize("args, pattern", [
    (["--batch-size", "0"], r"train\.batch_size=0: expected a positive integer"),
    (["--set", "model.not_a_field=1"], r"unknown config key 'model\.not_a_field'"),
    (["--set", "model.d_model=100", "--set", "model.num_heads=8"],
     r"model\.d_model=100 is not divisible by model\.num_heads=8"),
    (["--epochs", "many"], r"argument --epochs: invalid int value: 'many'"),
    (["--task", "dance"], r"argument --task: invalid choice: 'dance'"),
    (["--config", "absent.yaml"], r"absent\.yaml: no such config file"),
    (["--set", "train.schedule=plateau", "--set", "train.plateau_factor=2"],
     r"train\.plateau_factor=2\.0: expected a factor in \(0, 1\)"),
])
def test_bad_flags(tmp_path, args, pattern):
    assert_usage_error(tfbig("tfbig.train", *args, "--output", str(tmp_path / "r")), pattern)


def test_finetune_layer_lr_decay_flag_is_checked_like_its_field(tmp_path):
    result = tfbig("tfbig.finetune", "--from", str(tmp_path), "--task", "classify",
                   "--layer-lr-decay", "1.5")
    assert_usage_error(result, r"train\.layer_lr_decay=1\.5: expected a factor in \(0, 1\]")
    assert "--layer-lr-decay D" in tfbig("tfbig.finetune", "--help").stdout


def test_predict_without_a_run(tmp_path):
    result = tfbig("tfbig.predict", "--run", str(tmp_path / "absent-run"))
    assert_usage_error(result, r"--run .*absent-run: no such run folder")


@pytest.mark.slow
def test_train_then_predict_on_a_users_file(tmp_path):
    import random

    rng = random.Random(0)
    lines = []
    for _ in range(300):
        a, b = rng.randrange(50), rng.randrange(50)
        lines.append(f"add {a} {b}\t{a + b}\n")
    data = write(tmp_path / "add.tsv", "".join(lines))
    run_dir = tmp_path / "run"
    result = tfbig("tfbig.train", "--data", data, "--epochs", "1", "--steps-per-epoch", "3",
                   "--set", "model.preset=tiny", "--output", str(run_dir), "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert f"run folder: {run_dir}" in result.stdout and "test: " in result.stdout
    for name in ("config.json", "model.keras", "history.csv", "metrics.json"):
        assert (run_dir / name).stat().st_size > 0

    inputs = write(tmp_path / "in.txt", "add 1 2\nadd 3 4\n\nadd 10 20\n")
    result = tfbig("tfbig.predict", "--run", str(run_dir), "--input", inputs)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4  # one output line per input line, blank too
    result = tfbig("tfbig.predict", "--run", str(run_dir), stdin="add 5 5\n")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 1

    result = tfbig("tfbig.train", "--data", data, "--output", str(run_dir))
    assert_usage_error(result, r"already holds a finished run")
