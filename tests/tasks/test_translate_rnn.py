"""``--task translate --model rnn``: the LSTM encoder-decoder trains through the same task
(loss, metrics, run folder), predicts and exports through ``generate``, and plots its one
attention."""

import json
import os

import pytest
from tasks.task_checks import (check_evaluate, check_run_folder, sample_lines, train_run,
                               write_lines)

from tfbig.errors import TfbigError
from tfbig.tasks import get_task, resolve_config

LINES = 300  # of data/dates.tsv: ~220 train, ~16 validation, ~64 test


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory):
    data = write_lines(tmp_path_factory.mktemp("data") / "dates.tsv",
                       sample_lines("dates.tsv", LINES))
    return train_run(tmp_path_factory, **{
        "task": "translate", "model.name": "rnn", "data.path": data, "train.epochs": 1,
        "train.steps_per_epoch": 20, "train.learning_rate": 1e-2,
        "train.epoch_metrics_examples": 0})


def test_translate_takes_rnn_and_keeps_the_transformer_as_default():
    task_class = get_task(resolve_config({"task": "translate"})).__class__
    assert task_class.models == ("transformer", "rnn")
    assert resolve_config({"task": "translate"}).model_name == "transformer"
    with pytest.raises(TfbigError, match="--model gpt cannot do the translate task; use one "
                                         "of: transformer, rnn"):
        resolve_config({"task": "translate", "model.name": "gpt"})


@pytest.mark.slow
def test_rnn_run_folder_metrics_and_attention_plot(rnn_run):
    run_dir, summary = rnn_run
    check_run_folder(run_dir, summary, ["source_tokenizer", "target_tokenizer",
                                        "plots/attention_cross.png"])
    # The Transformer's self-attention maps do not exist for the RNN, and are skipped.
    assert not os.path.exists(os.path.join(run_dir, "plots", "attention_encoder.png"))
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
        assert json.load(f)["model"]["name"] == "rnn"
    test = summary["test"]
    for key in ("exact_match", "bleu", "chrf", "token_accuracy", "perplexity"):
        assert key in test, key
    assert test["token_accuracy"] > 0.3, test  # 20 steps: the fixed "20..-..-.." is learnt


@pytest.mark.slow
def test_rnn_predict_prints_one_line_per_input_and_exports(rnn_run, tmp_path, capsys):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    from tfbig.cli import run
    from tfbig.export import main as export_main
    from tfbig.predict import main as predict_main

    run_dir, _ = rnn_run
    lines = ["march 3 2001", "", "12 sep. 2013"]
    inputs = write_lines(tmp_path / "inputs.txt", [line + "\n" for line in lines])
    assert run(predict_main, ["--run", run_dir, "--input", inputs]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(lines)

    # The serving module only calls generate: the RNN exports, and serves what predict says
    # (compared with its printed lines: a second load_run would only compile decoding again).
    output = tmp_path / "exported"
    assert run(export_main, ["--run", run_dir, "--output", str(output)]) == 0
    serve = tf.saved_model.load(str(output)).signatures["serving_default"]
    served = serve(inputs=tf.constant(lines))["outputs"].numpy()
    assert [text.decode("utf-8") for text in served] == printed


@pytest.mark.slow
def test_rnn_evaluate_matches_the_run_metrics(rnn_run, tmp_path):
    run_dir, summary = rnn_run
    _, rows = check_evaluate(run_dir, summary, tmp_path, plots=["attention_cross.png"])
    assert list(rows[0]) == ["source", "reference", "prediction", "loss"]
