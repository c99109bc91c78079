"""``python -m tfbig.tune``: search-space parsing, its error messages, and a real grid search
(2 values × 2 folds of a tiny classifier) that is interrupted, resumed and rerun."""

import csv
import json
import os
import re
import subprocess
import sys

import pytest

from tfbig import config as config_lib
from tfbig.cli import run
from tfbig.errors import TfbigError
from tfbig.tuning.search_space import hyperparameters, parse_search_space, trial_values
from tfbig.tasks import resolve_config

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(space, overrides=None):
    return parse_search_space(space, {} if overrides is None else overrides)


# ----------------------------------------------------------------------- search space


def test_a_list_is_a_grid_and_flag_names_map_to_config_keys():
    grid, rate, batch = parse({"model.d_model": [64, 128], "learning_rate": [1e-3, "3e-3"],
                               "batch-size": [8, 16]})
    assert (grid.key, grid.kind, grid.values, grid.finite) == (
        "model.d_model", "choice", (64, 128), True)
    assert rate.key == "train.learning_rate" and rate.values == (1e-3, 3e-3)  # YAML's "3e-3"
    assert batch.key == "train.batch_size"


def test_ranges_with_a_step_and_with_log_sampling():
    layers, dropout, rate = parse({
        "model.num_layers": {"min": 1, "max": 3, "step": 1},
        "model.dropout_rate": {"min": 0.0, "max": 0.2, "step": 0.1},
        "learning_rate": {"min": "1e-4", "max": 1e-2, "sampling": "log"}})
    assert (layers.kind, layers.min, layers.max, layers.step, layers.finite) == (
        "int", 1, 3, 1, True)
    assert (dropout.kind, dropout.step) == ("float", 0.1)
    assert (rate.kind, rate.min, rate.sampling, rate.finite) == ("float", 1e-4, "log", False)

    hp = hyperparameters([layers, dropout, rate])
    kinds = {p.name: type(p).__name__ for p in hp.space}
    assert kinds == {"model.num_layers": "Int", "model.dropout_rate": "Float",
                     "train.learning_rate": "Float"}
    assert hp.space[2].sampling == "log"
    # A float step gives 0.30000000000000004; the trial's config gets 0.3.
    values = trial_values([dropout], {"model.dropout_rate": 0.1 + 0.2})
    assert values == {"model.dropout_rate": 0.3}


def test_booleans_and_two_type_fields_come_back_in_the_fields_types():
    dims = parse({"model.norm_first": [True, False], "train.jit_compile": ["auto", False]})
    hp = hyperparameters(dims)
    assert hp.space[1].values == ["auto", "false"]  # keras-tuner wants one type a Choice
    values = trial_values(dims, {"model.norm_first": 0, "train.jit_compile": "false"})
    assert values == {"model.norm_first": False, "train.jit_compile": False}
    assert type(values["model.norm_first"]) is bool


@pytest.mark.parametrize("space, pattern", [
    ({"model.d_modl": [64]},
     r"unknown key 'model\.d_modl' \(did you mean 'model\.d_model'\?\)"),
    ({"lerning_rate": [0.1]}, r"unknown key 'lerning_rate' \(did you mean 'learning_rate'\?\)"),
    ({"task": ["lm"]}, r"search_space key 'task': the task cannot be tuned"),
    ({"model.d_model": {"min": 128, "max": 64}},
     r"search_space model\.d_model: range min=128 max=64; expected min < max"),
    ({"learning_rate": {"min": 0, "max": 0.1, "sampling": "log"}},
     r"train\.learning_rate: log sampling needs min > 0, got min=0\.0"),
    ({"learning_rate": {"min": 0.1, "max": 1, "sampling": "cubic"}},
     r"sampling='cubic'; expected one of linear, log, reverse_log"),
    ({"model.num_layers": {"min": 1, "max": 4, "step": 0}},
     r"model\.num_layers: step=0; expected > 0"),
    ({"model.num_layers": {"min": 1, "max": 4, "stp": 1}},
     r"model\.num_layers: unknown range key 'stp'"),
    ({"model.num_layers": {"min": 1}}, r"model\.num_layers: range has no 'max'"),
    ({"model.activation": {"min": 1, "max": 2}},
     r"model\.activation: a range needs a numeric field"),
    ({"model.num_layers": [1, "two"]},
     r"model\.num_layers: config field model\.num_layers='two': expected an integer"),
    ({"model.num_layers": []}, r"model\.num_layers: the list of values is empty"),
    ({"model.num_layers": 3}, r"model\.num_layers: got 3; expected a list of values"),
    ({"model.dropout_rate": [0.1, 1.5]},
     r"model\.dropout_rate: the value 1\.5 gives no valid config \(config field "
     r"model\.dropout_rate=1\.5: expected a rate in \[0, 1\)\)"),
])
def test_bad_search_spaces_name_the_key(space, pattern):
    with pytest.raises(TfbigError, match=pattern):
        parse(space)


def test_values_that_fit_another_tuned_key_are_left_to_the_trial():
    # num_heads=3 does not divide the default d_model=128, but it does divide d_model=96.
    parse({"model.d_model": [96, 128], "model.num_heads": [3, 4]})
    with pytest.raises(TfbigError, match=r"model\.num_heads: the value 3 gives no valid"):
        parse({"model.num_heads": [3, 4]})


def test_the_seed_fixes_what_a_random_search_draws(tmp_path):
    from tfbig.tuning.tuner import Plan, make_tuner

    dims = parse({"learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
                  "model.d_model": [32, 64]})
    plan = Plan(overrides={}, dimensions=tuple(dims), folds=1, monitor="val_loss", mode="min")

    def draws(seed, folder):  # the values of the first three trials, none of them trained
        tuner = make_tuner("random", plan, str(tmp_path / folder), max_trials=3, seed=seed)
        return [tuner.oracle.create_trial(f"worker{i}").hyperparameters.values
                for i in range(3)]

    first = draws(4, "a")
    assert draws(4, "b") == first and draws(5, "c") != first
    assert all(1e-4 <= values["train.learning_rate"] <= 1e-2 for values in first)


def test_the_shipped_example_parses():
    path = os.path.join(REPO, "tfbig", "configs", "tune_example.yaml")
    overrides = config_lib.load_config_file(path)
    config = resolve_config(overrides)
    assert [d.key for d in parse(config.search_space, overrides)] == [
        "train.learning_rate", "model.dropout_rate"]


# ---------------------------------------------------------------------------- the CLI


def tune_cli(*args):
    return subprocess.run([sys.executable, "-m", "tfbig.tune", *args], capture_output=True,
                          text=True, env=ENV, timeout=600, cwd=REPO)


def assert_one_error_line(stderr, pattern):
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and re.search(pattern, lines[0]), stderr
    assert "Traceback" not in stderr


def test_help_is_fast_and_lists_the_tune_flags():
    code = ("import sys; from tfbig.tune import build_parser; build_parser().format_help(); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    result = tune_cli("--help")
    assert result.returncode == 0
    for flag in ("--tuner {grid,random,hyperband,bayesian}", "--folds K", "--max-trials N",
                 "--learning-rate X", "--set KEY=VALUE"):
        assert flag in result.stdout


def test_no_search_space_says_how_to_add_one(tmp_path, capsys, monkeypatch):
    from tfbig.tune import main

    # In this process (a new one would only add TensorFlow's start-up): the CLI's own
    # contract (tfbig.cli.run), from the repository, where the example's path is relative.
    monkeypatch.chdir(REPO)
    assert run(main, ["--epochs", "1", "--output", str(tmp_path / "t")]) == 2
    assert_one_error_line(capsys.readouterr().err, r"no search_space: add one .*search_space: "
                                                   r"\{model\.d_model: \[64, 128\].*--config "
                                                   r"tfbig/configs/tune_example\.yaml")
    assert not (tmp_path / "t").exists()


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    with open(os.path.join(REPO, "data", "reviews.tsv"), encoding="utf-8") as f:
        lines = [line for _, line in zip(range(300), f)]
    path = tmp_path_factory.mktemp("data") / "reviews.tsv"
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


@pytest.fixture
def tiny_config(tmp_path, reviews):
    """A classify config (Kim's CNN, 3 steps) searching two learning rates."""
    def write(**search_space):
        mapping = {"task": "classify", "model": {"name": "cnn", "preset": "tiny"},
                   "data": {"path": reviews},
                   "train": {"epochs": 1, "steps_per_epoch": 3, "batch_size": 16,
                             "jit_compile": False, "warmup_steps": 2,
                             "epoch_metrics_examples": 0},
                   "search_space": search_space or {"learning_rate": [1e-3, 1e-2]}}
        path = tmp_path / "tune.json"
        path.write_text(json.dumps(mapping), encoding="utf-8")
        return str(path)
    return write


@pytest.mark.parametrize("args, pattern", [
    (["--folds", "0"], r"--folds 0: expected an integer >= 1"),
    (["--folds", "400"], r"fold \d+ of 400 has no validation examples: \d+ examples are too "
                         r"few for 400 folds"),
    (["--max-trials", "0"], r"--max-trials 0: expected an integer >= 1"),
    (["--tuner", "annealing"], r"argument --tuner: invalid choice: 'annealing'"),
    (["--set", "search_space={model.d_modl: [1]}"], r"did you mean 'model\.d_model'"),
    (["--tuner", "hyperband", "--set", "search_space={epochs: [1, 2]}"],
     r"Hyperband chooses each trial's epochs itself"),
])
def test_bad_usage_exits_2_with_one_line(tiny_config, tmp_path, capsys, args, pattern):
    from tfbig.tune import main

    assert run(main, ["--config", tiny_config(), "--output", str(tmp_path / "t"), *args]) == 2
    assert_one_error_line(capsys.readouterr().err, pattern)
    assert not (tmp_path / "t").exists()


def test_a_bad_search_space_is_answered_before_tensorflow_loads(tiny_config, tmp_path):
    """The search space is checked before keras-tuner (and TensorFlow, seconds) loads."""
    code = ("import sys; from tfbig.cli import run; from tfbig.tune import main; "
            f"code = run(main, ['--config', {tiny_config(**{'model.d_modl': [1]})!r}, "
            f"'--output', {str(tmp_path / 't')!r}]); "
            "assert code == 2, code; assert 'tensorflow' not in sys.modules, 'TF loaded'")
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert_one_error_line(result.stderr, r"did you mean 'model\.d_model'")


def test_a_search_where_every_trial_fails_says_why(tiny_config, tmp_path, capsys):
    from tfbig.tune import main

    # Each value is fine alone; together they make no valid model (5 heads cannot split 96).
    config = tiny_config(**{"model.d_model": [96], "model.num_heads": [5]})
    assert run(main, ["--config", config, "--output", str(tmp_path / "t")]) == 2
    assert_one_error_line(capsys.readouterr().err,
                          r"no trial of the search finished \(1 failed; the first: config "
                          r"field model\.d_model=96 is not divisible by model\.num_heads=5")
    with open(tmp_path / "t" / "results.csv", encoding="utf-8") as f:
        (row,) = csv.DictReader(f)
    assert (row["status"], row["model.d_model"], row["mean"]) == ("FAILED", "96", "")
    assert "not divisible" in row["error"]


# ------------------------------------------------------------------ a real grid search


@pytest.mark.slow
def test_grid_search_with_folds_resumes_and_hands_over_its_best_config(
        tiny_config, tmp_path, capsys, monkeypatch):
    from tfbig import train as train_cli
    from tfbig.cli import config_from_args
    from tfbig.runs import fit
    from tfbig.tuning.search import same_run
    from tfbig.tune import main

    output = tmp_path / "search"
    argv = ["--config", tiny_config(), "--folds", "2", "--seed", "3", "--output", str(output)]
    real_train, calls = fit.train, []

    def train(config, run_dir, **kwargs):
        calls.append(os.path.relpath(run_dir, output).replace(os.sep, "/"))
        if interrupt_at == len(calls):
            raise KeyboardInterrupt  # Ctrl-C as the second fold of the first trial starts
        return real_train(config, run_dir, **kwargs)

    monkeypatch.setattr(fit, "train", train)
    interrupt_at = 2
    assert run(main, argv) == 130
    assert calls == ["search/trial_0000/fold_0", "search/trial_0000/fold_1"]

    # The same command resumes: the first trial's scored fold is not trained again.
    calls.clear()
    interrupt_at = None
    assert run(main, argv) == 0, capsys.readouterr().err
    assert calls == ["search/trial_0000/fold_1", "search/trial_0001/fold_0",
                     "search/trial_0001/fold_1", "best"]
    stdout = capsys.readouterr().out
    assert re.search(r"best trial 000[01]: train\.learning_rate=0\.0\d+: val_accuracy "
                     r"0\.\d{4} ± 0\.\d{4}", stdout), stdout

    with open(output / "results.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [row["trial"] for row in rows] == ["0000", "0001"]
    assert [float(row["train.learning_rate"]) for row in rows] == [1e-3, 1e-2]
    for row in rows:
        folds = [float(row["fold_0"]), float(row["fold_1"])]
        assert row["status"] == "COMPLETED" and all(0 <= s <= 1 for s in folds)
        assert float(row["mean"]) == pytest.approx(sum(folds) / 2)
        assert float(row["std"]) == pytest.approx(abs(folds[0] - folds[1]) / 2)
        assert float(row["seconds"]) > 0 and row["error"] == ""
    best_row = max(rows, key=lambda row: float(row["mean"]))

    settings = json.loads((output / "tune_config.json").read_text())
    assert settings["objective"] == {"name": "val_accuracy", "direction": "max"}
    assert settings["folds"] == 2 and settings["tuner"] == "grid"
    assert (output / "scores.png").stat().st_size > 0
    trial_fold = output / "search" / "trial_0000" / "fold_0"
    assert (trial_fold / "history.csv").exists() and not (trial_fold / "model.keras").exists()

    # best_config.json: train's own --config path takes it, and it is what best/ trained.
    best_config_path = str(output / "best_config.json")
    best = config_from_args(train_cli.build_parser().parse_args(["--config",
                                                                 best_config_path]))
    assert best.train.learning_rate == float(best_row["train.learning_rate"])
    assert best.search_space == {} and best.train.seed == 3
    assert same_run(str(output / "best"), best)
    for entry in ("model.keras", "metrics.json", "labels.json", "tokenizer/vocab.txt"):
        assert (output / "best" / entry).exists(), entry
    assert "test" in json.loads((output / "best" / "metrics.json").read_text())
    # tfbig.train's own command line, in this process (a new one would only add TensorFlow's
    # start-up): its --config takes the file.
    capsys.readouterr()
    code = run(train_cli.main, ["--config", best_config_path, "--steps-per-epoch", "1",
                                "--output", str(tmp_path / "again")])
    stderr = capsys.readouterr().err
    assert code == 0, stderr
    again = config_lib.from_dict(json.loads((tmp_path / "again" / "config.json").read_text()))
    assert again.train.learning_rate == best.train.learning_rate

    # Rerun once more: nothing trains; other settings are refused.
    calls.clear()
    assert run(main, argv) == 0 and calls == []
    assert run(main, [*argv, "--folds", "3"]) == 2
    assert_one_error_line(capsys.readouterr().err,
                          r"holds a search with other settings \(folds: 2 → 3\)")
