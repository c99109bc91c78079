"""``python -m tfbig.export``: the exported signature answers exactly as ``predict`` does,
for every task, and the command keeps the CLI contract (fast --help, one-line errors, an
output folder that is complete or absent).

The translate run is trained with ``tfbig.runs.fit.train`` (the real hand-off), the
classify run for a few steps; the image, lm and mlm runs keep their initial weights: what
is compared is the graph, which does not care whether the weights learnt anything.
"""

import json
import os
import subprocess
import sys

import pytest
from tasks.task_checks import TINY, sample_lines, write_lines

from tfbig.errors import TfbigError
from tfbig.exporting.atomic_folder import atomic_folder, check_destination
from tfbig.tasks import resolve_config

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

# What predict normalises: full-width letters and digits (NFKC), tabs and runs of spaces;
# an empty line and a blank one (answered ""), characters outside the vocabulary, a text
# longer than the model's input.
TEXTS = ["12 sep. 2013", "  january\t24   2035 ", "１２ ＳＥＰ． ２０１３", "", "☃ 你好 ü",
         " \t\u3000\v",
         "The lid is not sturdy and I hate the cable.", "march 3 1999 " * 20]


def tfbig(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          env=ENV, timeout=300)


def assert_usage_error(result, pattern):
    import re

    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and re.search(pattern, lines[0]), result.stderr
    assert "Traceback" not in result.stderr


def tiny_run(folder, steps=0, **overrides):
    """The run folder ``train`` writes (config.json, assets, model.keras) for ``TINY`` +
    ``overrides``, after ``steps`` training steps (0: the initial weights)."""
    import keras

    from tfbig.tasks import get_task
    from tfbig import run_folder

    config = resolve_config({**TINY, **overrides})
    task = get_task(config)
    splits, _ = task.load_splits()
    task.learn_assets(splits["train"])
    config = task.resolve_lengths(splits["train"])
    os.makedirs(folder)
    task.save_assets(folder)
    config.save(os.path.join(folder, run_folder.CONFIG))
    keras.utils.set_random_seed(config.train.seed)
    model = task.build_model()
    if steps:
        loss, metrics = task.loss_and_metrics()
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss, metrics=metrics)
        model.fit(task.dataset(splits["train"], training=True).repeat(), steps_per_epoch=steps,
                  shuffle=False, verbose=0)  # (the pipeline shuffles, seeded)
    run_folder.save_model(model, folder)
    return str(folder)


def export_and_load(run_dir, output, **options):
    """Export ``run_dir`` (library call) and return the loaded ``serving_default``."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the tokenizer ops)

    from tfbig.exporting import export_run

    export_run(run_dir, str(output), check=False, log=lambda message: None, **options)
    return tf.saved_model.load(str(output)).signatures["serving_default"]


def strings(tensor):
    return [value.decode("utf-8") for value in tensor.numpy()]


# ------------------------------------------------------------------------ command line
def test_help_is_fast_and_does_not_import_tensorflow():
    code = ("import sys; from tfbig.export import build_parser; build_parser().format_help(); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    result = tfbig("tfbig.export", "--help")
    assert result.returncode == 0 and "--run DIR" in result.stdout
    assert "--output DIR" in result.stdout and "--overwrite" in result.stdout


@pytest.fixture
def fake_run(tmp_path):
    """A folder that passes the run check (the errors below come before anything loads)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}", encoding="utf-8")
    (run / "model.keras").write_bytes(b"")
    return run


def test_missing_run_folder(tmp_path):
    result = tfbig("tfbig.export", "--run", str(tmp_path / "absent-run"),
                   "--output", str(tmp_path / "export"))
    assert_usage_error(result, r"--run .*absent-run: no such run folder")
    assert not (tmp_path / "export").exists()


def test_existing_output_is_refused(tmp_path, fake_run):
    output = tmp_path / "export"
    output.mkdir()
    (output / "notes.txt").write_text("keep me", encoding="utf-8")
    result = tfbig("tfbig.export", "--run", str(fake_run), "--output", str(output))
    assert_usage_error(result, r"--output .*export already exists and is not empty; choose "
                               r"another --output or pass --overwrite")
    # --overwrite replaces an earlier export only, never a folder of other files.
    result = tfbig("tfbig.export", "--run", str(fake_run), "--output", str(output),
                   "--overwrite")
    assert_usage_error(result, r"holds files but no export\.json, so it is not a tfbig export")
    assert (output / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_output_must_not_replace_the_run(tmp_path, fake_run):
    for output in (fake_run, tmp_path):
        with pytest.raises(TfbigError, match=r"would replace the run folder .*run; choose "
                                             r"another --output \(e\.g\. .*run/export\)"):
            check_destination(str(output), True, protect=[str(fake_run)])
    check_destination(str(fake_run / "export"), False, protect=[str(fake_run)])
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(TfbigError, match=r"file exists and is not a folder"):
        check_destination(str(tmp_path / "file"), True)


def test_bad_max_length(tmp_path, fake_run):
    result = tfbig("tfbig.export", "--run", str(fake_run), "--output", str(tmp_path / "e"),
                   "--max-length", "0")
    assert_usage_error(result, r"--max-length must be >= 1, received 0")


# ----------------------------------------------------------------------- atomic folder
def test_a_failed_export_leaves_nothing_behind(tmp_path):
    output = tmp_path / "export"
    with pytest.raises(RuntimeError, match="half way"):
        with atomic_folder(str(output)) as folder:
            (tmp_path / "export-probe").write_text(folder, encoding="utf-8")
            with open(os.path.join(folder, "saved_model.pb"), "w") as f:
                f.write("half")
            raise RuntimeError("half way")
    assert os.listdir(tmp_path) == ["export-probe"]  # no output, no temporary sibling


def test_overwrite_replaces_an_earlier_export_whole(tmp_path):
    output = tmp_path / "export"
    for version in ("old", "new"):
        with atomic_folder(str(output), overwrite=True) as folder:
            for name in ("export.json", f"{version}.txt"):
                with open(os.path.join(folder, name), "w") as f:
                    f.write(version)
    assert sorted(os.listdir(output)) == ["export.json", "new.txt"]
    assert sorted(os.listdir(tmp_path)) == ["export"]
    assert oct(output.stat().st_mode & 0o777) != oct(0o700)  # not mkdtemp's private mode


# ------------------------------------------------------------------------- tokenizers
def test_every_tokenizer_kind_survives_a_savedmodel(tmp_path):
    """Each kind the task exports below do not use (they cover char and wordpiece)
    tokenizes and detokenizes the same after ``tf.saved_model`` save and load, two
    SentencePiece models side by side included (translate's source and target: a SavedModel
    once gave both the first one's model)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    from tfbig.data.tokenizers import TOKENIZER_KINDS, learn_tokenizer

    corpus = [line.split("\t")[0] for line in sample_lines("dates.tsv", 200)]
    targets = [line.split("\t")[1].strip() for line in sample_lines("dates.tsv", 200)]
    tokenizers = {}
    for kind in sorted(set(TOKENIZER_KINDS) - {"char", "wordpiece"}):
        if kind == "sentencepiece":
            pytest.importorskip("sentencepiece")
            tokenizers["sentencepiece_target"] = learn_tokenizer(kind, targets, vocab_size=40)
        tokenizers[kind] = learn_tokenizer(kind, corpus, vocab_size=60)

    class Holder(tf.Module):
        def __init__(self):
            super().__init__()
            self.tokenizers = tokenizers

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
        def run(self, texts):
            outputs = {}
            for name, tokenizer in self.tokenizers.items():
                ids = tokenizer.tokenize(texts)
                outputs[f"{name}_ids"] = ids.to_tensor()
                outputs[f"{name}_text"] = tokenizer.detokenize(ids)
            return outputs

    holder = Holder()
    texts = tf.constant(TEXTS + ["2013-09-12"])
    expected = {name: value.numpy() for name, value in holder.run(texts).items()}
    tf.saved_model.save(holder, str(tmp_path / "tokenizers"))
    loaded = tf.saved_model.load(str(tmp_path / "tokenizers")).run(texts)
    for name, value in expected.items():
        assert loaded[name].numpy().tolist() == value.tolist(), name


# ----------------------------------------------------------------------------- tasks
@pytest.fixture(scope="module")
def translate_run(tmp_path_factory):
    from tfbig.runs.fit import train

    data = write_lines(tmp_path_factory.mktemp("data") / "dates.tsv",
                       sample_lines("dates.tsv", 160))
    run_dir = str(tmp_path_factory.mktemp("translate") / "run")
    train(resolve_config({**TINY, "task": "translate", "data.path": data,
                              "train.epochs": 1, "train.steps_per_epoch": 30,
                              "train.learning_rate": 1e-2,
                              "train.epoch_metrics_examples": 0}), run_dir, verbose=0)
    return run_dir


def test_translate_export_matches_predict(translate_run, tmp_path, capsys):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    from tfbig.cli import run
    from tfbig.export import main
    from tfbig.inference import load_run

    output = tmp_path / "exported"
    assert run(main, ["--run", translate_run, "--output", str(output)]) == 0
    assert capsys.readouterr().out == f"{output}\n"
    info = json.loads((output / "export.json").read_text(encoding="utf-8"))
    assert info["task"] == "translate" and info["signature"] == "serving_default"
    assert list(info["inputs"]) == ["inputs"] and list(info["outputs"]) == ["outputs"]
    task, model = load_run(translate_run)
    assert info["max_new_tokens"] == task.config.data.max_target_length
    assert "serving_default" in (output / "README.md").read_text(encoding="utf-8")

    serve = tf.saved_model.load(str(output)).signatures["serving_default"]
    outputs = serve(inputs=tf.constant(TEXTS))
    assert list(outputs) == ["outputs"] and outputs["outputs"].dtype == tf.string
    expected = task.predict_texts(model, TEXTS)
    assert strings(outputs["outputs"]) == expected
    # Char tokens: a shorter string is a row that stopped at [END] (the trained path).
    assert any(len(text) < task.config.data.max_target_length for text in expected)

    # An export is never replaced by accident, and is replaced on request.
    assert run(main, ["--run", translate_run, "--output", str(output)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err


def test_classify_export_matches_predict(tmp_path):
    import numpy as np

    from tfbig.inference import load_run

    data = write_lines(tmp_path / "reviews.tsv", sample_lines("reviews.tsv", 150))
    run_dir = tiny_run(tmp_path / "run", steps=20, task="classify",
                       **{"model.name": "cnn", "data.path": data})
    serve = export_and_load(run_dir, tmp_path / "exported")
    outputs = serve(inputs=np.array(TEXTS, dtype=object))
    task, model = load_run(run_dir)
    assert strings(outputs["labels"]) == task.predict_texts(model, TEXTS)
    logits = task.logits(model, [(text, task.labels[0]) for text in TEXTS])
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    blank = np.array([not text.strip() for text in TEXTS])
    probabilities[blank] = 0.0  # a blank text: label "" and zero probabilities, as images
    assert blank.sum() == 2
    np.testing.assert_allclose(outputs["probabilities"].numpy(), probabilities, atol=1e-6)
    info = json.loads((tmp_path / "exported" / "export.json").read_text(encoding="utf-8"))
    assert info["labels"] == task.labels == ["negative", "neutral", "positive"]
    with pytest.raises(TfbigError, match=r"--max-length applies to translate and lm runs, "
                                         r"not to a classify run"):
        export_and_load(run_dir, tmp_path / "again", max_length=5)
    assert not (tmp_path / "again").exists()


def write_images(folder):
    """``folder/<colour>/*.png|*.jpg`` of different sizes, red and blue dominant."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for channel, colour in ((0, "red"), (2, "blue")):
        os.makedirs(folder / colour)
        for index in range(6):
            image = rng.uniform(0, 150, (10 + index, 14, 3))
            image[..., channel] += 100
            pixels = tf.constant(image.astype(np.uint8))
            encoded = tf.io.encode_png(pixels) if index % 2 else tf.io.encode_jpeg(pixels)
            tf.io.write_file(str(folder / colour / f"{index}.{'png' if index % 2 else 'jpg'}"),
                             encoded)
    return str(folder)


def test_image_export_matches_predict(tmp_path):
    from tfbig.inference import load_run

    images = write_images(tmp_path / "images")
    run_dir = tiny_run(tmp_path / "run", task="image", **{
        "model.name": "cnn", "data.path": images, "data.image_size": 8,
        "train.batch_size": 4})
    serve = export_and_load(run_dir, tmp_path / "exported")
    paths = [os.path.join(images, colour, name) for colour in ("red", "blue")
             for name in ("0.jpg", "1.png", "4.jpg")]
    paths.insert(2, "")  # predict's blank line: an empty input
    data = [open(path, "rb").read() if path else b"" for path in paths]
    outputs = serve(inputs=data)
    task, model = load_run(run_dir)
    assert strings(outputs["labels"]) == task.predict_texts(model, paths)
    assert outputs["labels"].numpy()[2] == b"" and outputs["probabilities"].numpy()[2].sum() == 0


def test_lm_export_matches_predict(tmp_path):
    from tfbig.inference import load_run

    corpus = write_lines(tmp_path / "corpus.txt", sample_lines("corpus.txt", 120))
    run_dir = tiny_run(tmp_path / "run", task="lm", **{
        "data.path": corpus, "model.max_length": 40, "data.max_source_length": 12,
        "train.batch_size": 4})
    serve = export_and_load(run_dir, tmp_path / "exported")
    task, model = load_run(run_dir)
    texts = TEXTS + ["the cat " * 30]  # a prompt cut from the left
    assert strings(serve(inputs=texts)["outputs"]) == task.predict_texts(model, texts)


def test_mlm_export_fills_masks_as_predict_does(tmp_path):
    from tfbig.inference import load_run

    corpus = write_lines(tmp_path / "corpus.txt", sample_lines("corpus.txt", 120))
    run_dir = tiny_run(tmp_path / "run", task="mlm", **{
        "data.path": corpus, "model.max_length": 24, "data.max_source_length": 16})
    serve = export_and_load(run_dir, tmp_path / "exported")
    task, model = load_run(run_dir)
    texts = ["the [MASK] sat on the mat", "", "[MASK]", "no mask here",
             "[MASK][MASK] a [MASK] b", "Ünï  [MASK]\tcode [MASK].",
             "word " * 30 + "[MASK] cut off [MASK]"]  # masks past the 24 tokens stay
    outputs = strings(serve(inputs=texts)["outputs"])
    assert outputs == task.predict_texts(model, texts)
    assert outputs[1] == "" and outputs[3] == "no mask here" and "[MASK]" not in outputs[0]
    assert outputs[-1].endswith("[MASK] cut off [MASK]")
