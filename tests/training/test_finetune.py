"""Fine-tuning end to end: a (tiny, random) Hugging Face BERT checkpoint → classify run
folder → predict; our own mlm run → classify run (backbone, tokenizer, new head, layer-wise
rates) → predict; and the starts that are refused, with their messages."""

import json
import os

import keras
import pytest

from tfbig import config as config_lib
from tfbig.errors import TfbigError
from tfbig.runs.finetune import PretrainedStart
from tfbig.tasks import resolve_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory):
    from checkpoints.test_hf_bert import CONFIG, tiny_tensors, write_checkpoint

    config = {**CONFIG, "max_position_embeddings": 32}
    return str(write_checkpoint(tmp_path_factory.mktemp("hf"), tiny_tensors(config), config))


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    lines = []
    for i in range(120):
        if i % 2:
            lines.append(f"hello cat, world{' !' * (i % 3)}\tgood\n")
        else:
            lines.append(f"a catty world{' sep' * (i % 3)}\tbad\n")
    path = tmp_path_factory.mktemp("data") / "reviews.tsv"
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def classify_config(data, **overrides):
    # No test split: nothing here reads test metrics, and scoring one only costs time.
    return resolve_config({"task": "classify", "data.path": data, "train.epochs": 2,
                               "train.steps_per_epoch": 3, "train.batch_size": 8,
                               "train.jit_compile": False, "data.test_split": 0.0,
                               **overrides})


@pytest.mark.parametrize("method", ["lora"])  # freeze/gradual: test_finetune_methods.py
def test_hf_checkpoint_fine_tunes_into_a_normal_run_folder(tiny_hf, reviews, tmp_path, method):
    from tfbig.inference import load_run
    from tfbig.runs.fit import train

    start = PretrainedStart("hf", tiny_hf, method, lora_rank=2)
    config = start.check(classify_config(reviews))
    assert (config.model.d_model, config.model.num_layers) == (8, 2)  # the checkpoint's
    run_dir = str(tmp_path / "run")
    summary = train(config, run_dir, start=start, verbose=0)

    with open(os.path.join(run_dir, "config.json")) as f:
        saved = config_lib.from_dict(json.load(f))
    assert saved.pretrained["method"] == method and saved.pretrained["source"] == "hf"
    assert os.path.exists(os.path.join(run_dir, "tokenizer", "tokenizer_config.json"))
    assert summary["trainable_parameters"] < summary["parameters"] / 2

    task, model = load_run(run_dir)
    assert task.tokenizer.cls_id == 3  # the checkpoint's own [CLS], not tfbig's 4
    predictions = task.predict_texts(model, ["hello cat", "a catty world"])
    assert len(predictions) == 2 and set(predictions) <= {"bad", "good"}


def test_refused_starts_name_what_is_supported(tiny_hf, reviews, tmp_path):
    with pytest.raises(TfbigError, match=r"--from-hf fine-tunes a BERT checkpoint for --task "
                                         r"classify \(--model bert\); received --task "
                                         r"translate"):
        PretrainedStart("hf", tiny_hf).check(resolve_config({"task": "translate"}))
    with pytest.raises(TfbigError, match=r"--run .*absent: no such run folder"):
        PretrainedStart("run", str(tmp_path / "absent")).check(classify_config(reviews))
    with pytest.raises(TfbigError, match=r"--method 'adapters': expected one of full, "
                                         r"freeze, gradual, lora"):
        PretrainedStart("hf", tiny_hf, "adapters")
    with pytest.raises(TfbigError, match=r"config\.json"):
        PretrainedStart("hf", str(tmp_path)).check(classify_config(reviews))


def test_finetune_cli_errors(tmp_path):
    import subprocess
    import sys

    # The module as users run it: argparse answers before TensorFlow is imported (a bad
    # --from / --from-hf start is checked the same way in test_cli).
    result = subprocess.run([sys.executable, "-m", "tfbig.finetune", "--task", "classify"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "--from" in result.stderr
    result = subprocess.run([sys.executable, "-m", "tfbig.finetune", "--from-hf",
                             str(tmp_path / "nope"), "--task", "classify"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    assert "nope" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------ own pretrain → fine-tune
DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data")
# No test split (as in classify_config): the checks below read the validation metrics.
TINY = {"model.preset": "tiny", "train.batch_size": 16, "train.steps_per_epoch": 3,
        "train.epochs": 1, "train.jit_compile": False, "train.warmup_steps": 2,
        "data.test_split": 0.0}


def head_of(name, lines, folder):
    """The first ``lines`` lines of a shipped data file, as a small file of its own."""
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        text = "".join(next(f) for _ in range(lines))
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def pretrained_mlm(tmp_path_factory):
    """``train --task mlm`` on a slice of the shipped corpus (tiny BERT, a few steps)."""
    from tfbig.runs.fit import train

    folder = tmp_path_factory.mktemp("mlm")
    config = resolve_config({**TINY, "task": "mlm", "data.vocab_size": 300,
                                 "data.path": head_of("corpus.txt", 300, folder)})
    run_dir = str(folder / "run")
    train(config, run_dir, verbose=0)
    return run_dir


class WeightsAtStart(keras.callbacks.Callback):
    """What the model holds when fine-tuning begins: the encoder's weights, the head's
    shapes, and the learning-rate multipliers the optimizer will use."""

    def on_train_begin(self, logs=None):
        encoder = self.model.encoder
        self.encoder = [keras.ops.convert_to_numpy(v) for v in encoder.weights]
        inside = {id(v) for v in encoder.weights}
        self.head = [tuple(v.shape) for v in self.model.weights if id(v) not in inside]
        self.multipliers = {v.path: self.model.optimizer.multiplier(v)
                            for v in self.model.trainable_variables}
        self.embedding_path = encoder.embedding.weights[0].path


def test_own_mlm_run_fine_tunes_into_a_classifier(pretrained_mlm, tmp_path, capsys):
    import filecmp

    import numpy as np

    from tfbig.cli import run
    from tfbig.inference import load_run
    from tfbig.predict import main as predict_main
    from tfbig.runs.fit import train

    reviews = head_of("reviews.tsv", 200, tmp_path)
    start = PretrainedStart("run", pretrained_mlm, "full")
    config = start.check(resolve_config({
        **TINY, "task": "classify", "data.path": reviews, "train.epochs": 2,
        "train.layer_lr_decay": 0.5}))
    run_dir = str(tmp_path / "classify")
    at_start = WeightsAtStart()
    summary = train(config, run_dir, start=start, callbacks=[at_start], verbose=0)

    # The backbone starts from the pretrained weights, exactly.
    _, pretrained = load_run(pretrained_mlm)
    assert len(at_start.encoder) == len(pretrained.encoder.weights)
    for value, variable in zip(at_start.encoder, pretrained.encoder.weights):
        np.testing.assert_array_equal(value, np.asarray(variable), err_msg=variable.path)
    # The head is new: a classifier over this data's 3 labels (the mlm model had none).
    task, model = load_run(run_dir)
    assert task.labels == ["negative", "neutral", "positive"]
    assert (config.model.d_model, 3) in at_start.head and (3,) in at_start.head
    # The tokenizer is the pretrained run's, file for file.
    comparison = filecmp.dircmp(os.path.join(pretrained_mlm, "tokenizer"),
                                os.path.join(run_dir, "tokenizer"))
    assert comparison.common_files and not (comparison.diff_files or comparison.left_only
                                            or comparison.right_only)
    # Layer-wise rates: head 1, embeddings 0.5^(1 block + 1) with the tiny preset.
    assert at_start.multipliers[at_start.embedding_path] == 0.25
    assert max(at_start.multipliers.values()) == 1.0

    # A complete, normal run folder that records where it started.
    for entry in ("config.json", "model.keras", "metrics.json", "history.csv",
                  "labels.json", "tokenizer", "checkpoints/best.weights.h5",
                  "checkpoints/last.weights.h5", "plots/history.png",
                  "plots/learning_rate.png", "plots/confusion_matrix.png", "tensorboard"):
        assert os.path.exists(os.path.join(run_dir, entry)), entry
    with open(os.path.join(run_dir, "config.json")) as f:
        saved = config_lib.from_dict(json.load(f))
    assert saved.pretrained["source"] == "run" and saved.train.layer_lr_decay == 0.5
    # The reported accuracy is the saved model's, counted here from its own predictions.
    validation = task.load_splits()[0]["validation"]
    predicted = task.logits(model, validation).argmax(axis=-1)
    right = sum(task.labels[i] == label for i, (_, label) in zip(predicted, validation))
    assert summary["validation"]["accuracy"] == pytest.approx(right / len(validation),
                                                              abs=1e-12)
    assert summary["trainable_parameters"] == summary["parameters"]  # method full

    # predict, as a user runs it.
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("I adore the handle.\nThe button is really slow.\n", encoding="utf-8")
    capsys.readouterr()
    assert run(predict_main, ["--run", run_dir, "--input", str(inputs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and set(lines) <= set(task.labels)


def test_layer_lr_decay_is_refused_where_it_means_nothing(pretrained_mlm, reviews, tmp_path):
    from tfbig.runs.fit import train

    with pytest.raises(TfbigError, match=r"train\.layer_lr_decay=0\.8 has no effect with "
                                         r"--method freeze"):
        PretrainedStart("run", pretrained_mlm, "freeze").check(
            classify_config(reviews, **{"train.layer_lr_decay": 0.8}))
    with pytest.raises(TfbigError, match=r"train\.layer_lr_decay=0\.8 needs a backbone under "
                                         r"a new head.*continuing a mlm run"):
        PretrainedStart("run", pretrained_mlm).check(resolve_config(
            {"task": "mlm", "model.name": "bert", "train.layer_lr_decay": 0.8}))
    with pytest.raises(TfbigError, match=r"train\.layer_lr_decay=0\.8 applies when "
                                         r"fine-tuning a pretrained backbone"):
        train(classify_config(reviews, **{"train.layer_lr_decay": 0.8}),
              str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()
