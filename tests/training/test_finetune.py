"""Fine-tuning end to end: a (tiny, random) Hugging Face BERT checkpoint → classify run
folder → predict; and the starts that are refused, with their messages."""

import os

import pytest

from tfbig import config as config_lib
from tfbig.errors import TfbigError
from tfbig.training.finetune import PretrainedStart

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
    return config_lib.resolve({"task": "classify", "data.path": data, "train.epochs": 2,
                               "train.steps_per_epoch": 3, "train.batch_size": 8,
                               "train.jit_compile": False, **overrides})


@pytest.mark.parametrize("method", ["lora"])  # freeze/gradual: test_finetune_methods.py
def test_hf_checkpoint_fine_tunes_into_a_normal_run_folder(tiny_hf, reviews, tmp_path, method):
    from tfbig.inference import load_run
    from tfbig.training.fit import train

    start = PretrainedStart("hf", tiny_hf, method, lora_rank=2)
    config = start.check(classify_config(reviews))
    assert (config.model.d_model, config.model.num_layers) == (8, 2)  # the checkpoint's
    run_dir = str(tmp_path / "run")
    summary = train(config, run_dir, start=start, verbose=0)

    saved = config_lib.from_dict(
        __import__("json").load(open(os.path.join(run_dir, "config.json"))))
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
        PretrainedStart("hf", tiny_hf).check(config_lib.resolve({"task": "translate"}))
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

    result = subprocess.run([sys.executable, "-m", "tfbig.finetune", "--task", "classify"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "--from" in result.stderr
    result = subprocess.run([sys.executable, "-m", "tfbig.finetune", "--from-hf",
                             str(tmp_path / "nope"), "--task", "classify"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "nope" in result.stderr, result.stderr
