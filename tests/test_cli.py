"""The command-line contract: fast --help, `error: ...` + exit 2 on bad input, and a real
train → predict → evaluate round trip on a user's file, through subprocesses as a user runs
them. Input errors the commands only notice after importing TensorFlow, and reruns of a
command already run here as a subprocess, go through ``tfbig.cli.run`` in this process
(what each module's ``__main__`` calls): the same contract without paying another
TensorFlow import (seconds each)."""

import os
import re
import subprocess
import sys

import pytest

COMMANDS = ("train", "predict", "evaluate")
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


def tfbig_here(command, *args, stdin=""):
    """``python -m tfbig.<command> ARGS`` in this process: ``tfbig.cli.run(main, args)``
    with stdin, stdout and stderr swapped for strings; a ``CompletedProcess`` like
    :func:`tfbig`'s."""
    import contextlib
    import importlib
    import io
    from unittest import mock

    from tfbig.cli import run

    main = importlib.import_module(f"tfbig.{command}").main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch("sys.stdin", io.StringIO(stdin)):
        code = run(main, list(args))
    return subprocess.CompletedProcess([f"tfbig.{command}", *args], code, out.getvalue(),
                                       err.getvalue())


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


def error_before_tensorflow(command, args):
    """Run ``tfbig.<command>``'s main on ``args`` in a fresh interpreter; assert it exits 2
    without having imported TensorFlow, and return its stderr (the error line)."""
    code = ("import sys; from tfbig.cli import run; "
            f"from tfbig.{command} import main; code = run(main, {args!r}); "
            "assert code == 2, code; assert 'tensorflow' not in sys.modules, 'TF loaded'")
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, (
        result.stderr)
    return result.stderr


@pytest.mark.parametrize("task, content", [("translate", "one\tuno\ntwo\n"),
                                           ("classify", "good\tpositive\nbad\n"),
                                           ("image", None)])
def test_a_bad_data_file_fails_before_tensorflow_loads(tmp_path, task, content):
    """A typo in the data is reported in well under a second: train reads and checks the
    file (for images: the folder, with the default augmentation's strengths) before it
    imports TensorFlow (seconds)."""
    if content is None:  # an image folder without class folders
        (tmp_path / "bad").mkdir()
        data = str(tmp_path / "bad")
    else:
        data = write(tmp_path / "bad.tsv", content)
    error = error_before_tensorflow(
        "train", ["--task", task, "--data", data, "--output", str(tmp_path / "run")])
    assert data in error


@pytest.mark.parametrize("source", ["missing run", "missing folder", "roberta folder"])
def test_finetune_from_a_bad_start_fails_before_tensorflow_loads(tmp_path, source):
    """--from a missing run, --from-hf a missing folder or a checkpoint that is not BERT."""
    roberta = tmp_path / "roberta"
    roberta.mkdir()
    (roberta / "config.json").write_text('{"model_type": "roberta"}', encoding="utf-8")
    args = {"missing run": ["--from", str(tmp_path / "absent")],
            "missing folder": ["--from-hf", str(tmp_path / "absent")],
            "roberta folder": ["--from-hf", str(roberta)]}[source]
    error = error_before_tensorflow("finetune", args + ["--task", "classify", "--model", "bert"])
    assert args[1] in error


def unloadable_run(tmp_path, task, labels):
    """A run folder of ``task`` whose model file is empty: the checks that come before
    TensorFlow loads can pass or fail; loading the model never can."""
    import json

    from tfbig.tasks import resolve_config

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = resolve_config({"task": task}).to_dict()
    (run_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (run_dir / "model.keras").write_bytes(b"")
    (run_dir / "labels.json").write_text(json.dumps(labels), encoding="utf-8")
    return run_dir


@pytest.mark.parametrize("task, content, pattern", [
    ("translate", "one\tuno\ntwo\n", r"bad\.tsv:2: expected 2 tab-separated fields"),
    ("classify", "good\tpositive\nfine\tneutral\n",
     r"bad\.tsv:2: label 'neutral' is not in the training labels \(negative, positive\)")])
def test_evaluate_checks_its_data_file_before_tensorflow_loads(tmp_path, task, content,
                                                               pattern):
    """``evaluate --data`` reads the file (against a classifier's labels.json) before the
    run's tokenizers and model load TensorFlow (seconds)."""
    run_dir = unloadable_run(tmp_path, task, ["negative", "positive"])
    data = write(tmp_path / "bad.tsv", content)
    error = error_before_tensorflow("evaluate", ["--run", str(run_dir), "--data", data])
    assert re.search(pattern, error), error


def test_predict_checks_image_paths_before_tensorflow_loads(tmp_path):
    run_dir = unloadable_run(tmp_path, "image", ["blue", "red"])
    inputs = write(tmp_path / "in.txt", "\nmissing.png\n")
    error = error_before_tensorflow("predict", ["--run", str(run_dir), "--input", inputs])
    assert error == ("error: input line 2: missing.png: no such file (expected one .png/.jpg "
                     "path per line)\n")


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


@pytest.fixture(scope="module")
def users_run(tmp_path_factory):
    """``python -m tfbig.train --data add.tsv`` on a user's own file (sums written in words
    and digits, nothing like the shipped dates): ``(data, run_dir, result)``."""
    import random

    folder = tmp_path_factory.mktemp("users")
    rng = random.Random(0)
    lines = []
    for _ in range(300):
        a, b = rng.randrange(50), rng.randrange(50)
        lines.append(f"add {a} {b}\t{a + b}\n")
    data = write(folder / "add.tsv", "".join(lines))
    run_dir = folder / "run"
    # No per-epoch validation decoding: these tests check files and the final metrics.
    result = tfbig("tfbig.train", "--data", data, "--epochs", "1", "--steps-per-epoch", "3",
                   "--set", "model.preset=tiny", "--set", "train.epoch_metrics_examples=0",
                   "--output", str(run_dir), "--seed", "3")
    return data, run_dir, result


def users_splits(data, run_dir):
    """The run's train/validation/test split of the user's file, as training made it."""
    import json

    from tfbig.data.sources import read_pairs
    from tfbig.data.splits import split_examples

    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["data"]
    return split_examples(read_pairs(data), validation=config["validation_split"],
                          test=config["test_split"])


@pytest.mark.slow
def test_train_then_predict_and_evaluate_on_a_users_file(users_run, tmp_path):
    """The run trained on the user's file: its folder and vocabularies, ``predict`` on it,
    a refused rerun of ``train``, then ``evaluate`` on its test split (one test, so that
    the training is paid once, whichever pytest-xdist worker runs it)."""
    data, run_dir, result = users_run
    assert result.returncode == 0, result.stderr
    assert f"run folder: {run_dir}" in result.stdout and "test: " in result.stdout
    for name in ("config.json", "model.keras", "history.csv", "metrics.json"):
        assert (run_dir / name).stat().st_size > 0

    # The vocabularies are learnt from the user's file (its training split), not the sample:
    # exactly the characters of its sources and of its targets after the 7 special tokens.
    train = users_splits(data, run_dir)["train"]
    tokens = {}
    for side, texts in (("source", [s for s, _ in train]), ("target", [t for _, t in train])):
        vocab = (run_dir / f"{side}_tokenizer" / "vocab.txt").read_text(encoding="utf-8")
        tokens[side] = vocab.removesuffix("\n").split("\n")
        assert tokens[side][:7] == ["[PAD]", "[UNK]", "[START]", "[END]", "[CLS]", "[SEP]",
                                    "[MASK]"]
        assert sorted(tokens[side][7:]) == sorted(set("".join(texts))), side
    assert "d" in tokens["source"] and "M" not in tokens["source"]  # "add", no "March"
    assert sorted(tokens["target"][7:]) == list("0123456789")

    inputs = write(tmp_path / "in.txt", "add 1 2\nadd 3 4\n\nadd 10 20\n")
    result = tfbig("tfbig.predict", "--run", str(run_dir), "--input", inputs)
    assert result.returncode == 0, result.stderr
    outputs = result.stdout.splitlines()
    assert len(outputs) == 4  # one output line per input line, blank too ...
    assert outputs[2] == "" and all(outputs[i] for i in (0, 1, 3))  # ... and blank for blank
    # stdin, and the refused rerun of train, in this process (see tfbig_here).
    result = tfbig_here("predict", "--run", str(run_dir), stdin="add 5 5\n")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 1

    result = tfbig_here("train", "--data", data, "--output", str(run_dir))
    assert_usage_error(result, r"already holds a finished run")

    check_evaluate_on_a_data_file_prints_writes_and_matches_metrics_json(users_run, tmp_path)


def check_evaluate_on_a_data_file_prints_writes_and_matches_metrics_json(users_run, tmp_path):
    """``python -m tfbig.evaluate --run DIR --data PATH`` with PATH = the run's own test
    split: a table on stdout, DIR/eval/{metrics.json, predictions.tsv, plots}, and the same
    numbers as the run's metrics.json."""
    import csv
    import json
    import math

    data, run_dir, result = users_run
    assert result.returncode == 0, result.stderr
    test = users_splits(data, run_dir)["test"]
    test_file = write(tmp_path / "test.tsv", "".join(f"{s}\t{t}\n" for s, t in test))
    result = tfbig("tfbig.evaluate", "--run", str(run_dir), "--data", test_file)
    assert result.returncode == 0, result.stderr

    eval_dir = run_dir / "eval"
    saved = json.loads((eval_dir / "metrics.json").read_text(encoding="utf-8"))
    expected = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["test"]
    assert saved["data"] == test_file and saved["examples"] == len(test) == expected["examples"]
    assert set(expected) <= set(saved)
    for key, value in expected.items():  # numbers within float error; signatures exactly
        assert saved[key] == (value if isinstance(value, str) else
                              pytest.approx(value, rel=1e-5, abs=1e-7)), key

    table = dict(line.split(None, 1) for line in result.stdout.splitlines()
                 if line.strip() and not line.startswith("written"))
    assert set(table) == {key for key, value in saved.items()
                          if isinstance(value, (int, float, str))}
    for key in ("exact_match", "bleu", "chrf", "token_accuracy", "perplexity"):
        assert math.isclose(float(table[key]), saved[key], abs_tol=1e-4), key
    assert result.stdout.splitlines()[-1].split() == ["written", "to", str(eval_dir)]

    with open(eval_dir / "predictions.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [(row["source"], row["reference"]) for row in rows] == test  # one row per example
    assert list(rows[0]) == ["source", "reference", "prediction", "loss"]
    for name in ("attention_encoder.png", "attention_decoder_self.png", "attention_cross.png"):
        assert (eval_dir / name).stat().st_size > 1000, name
    # The 20 (evaluate's default) highest-loss rows of predictions.tsv, highest first, ties
    # in input order: the same rows, the same header.
    with open(eval_dir / "worst_examples.tsv", encoding="utf-8") as f:
        worst = list(csv.DictReader(f, delimiter="\t"))
    assert 0 < len(worst) == min(20, len(rows))
    assert worst == sorted(rows, key=lambda row: -float(row["loss"]))[:len(worst)]

    # A bad line: an error, or skipped and counted (in this process: evaluate loads the
    # model, so TensorFlow, before it reads --data).
    bad = write(tmp_path / "bad.tsv", "add 1 2\t3\nadd 2\t\n")
    assert_usage_error(tfbig_here("evaluate", "--run", str(run_dir), "--data", bad),
                       r"bad\.tsv:2: empty target field$")
    result = tfbig_here("evaluate", "--run", str(run_dir), "--data", bad, "--skip-bad-lines",
                        "--output", str(tmp_path / "skipped"))
    assert result.returncode == 0, result.stderr
    assert f"skipped 1 bad line; first: {bad}:2: empty target field" in result.stderr
    saved = json.loads((tmp_path / "skipped" / "metrics.json").read_text(encoding="utf-8"))
    assert (saved["examples"], saved["skipped_lines"]) == (1, 1)
