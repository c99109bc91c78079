"""The audio task end to end on a slice of the shipped spoken words: the CNN learns them far
above chance, predict prints ``label<TAB>probability``, evaluate scores and plots, the
export answers from the WAV bytes exactly as predict does; SpecAugment is on in training
only; bad folders and files fail in one line naming them."""

import os
import re
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from tasks.task_checks import (SAMPLES, TINY, check_evaluate, check_run_folder, predict_lines,
                               train_run)

from tfbig import config as config_lib
from tfbig import run_folder
from tfbig.data.samples_audio import WORDS
from tfbig.errors import TfbigError
from tfbig.tasks import get_task, resolve_config

AUDIO = os.path.join(SAMPLES, "audio")
PER_WORD = 40  # clips of each word in the slice: 200, of which 20 % are the test split


def copy_slice(folder, per_word, words=WORDS):
    """``folder/<word>/``: the first ``per_word`` shipped clips of each of ``words``."""
    for word in words:
        os.makedirs(folder / word)
        for index in range(per_word):
            name = f"{word}_{index:03d}.wav"
            shutil.copy(os.path.join(AUDIO, word, name), folder / word / name)
    return str(folder)


def clip_path(folder, word, index):
    return os.path.join(folder, word, f"{word}_{index:03d}.wav")


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    return copy_slice(tmp_path_factory.mktemp("data") / "words", PER_WORD)


# The default model (CNN) and SpecAugment, 10 epochs of 8 steps: test accuracy 0.95, 0.93,
# 0.98 with seeds 0, 1, 2 (41 test clips; ~30 s of training on 2 cores).
RUN = {"task": "audio", "train.batch_size": 16, "train.epochs": 10,
       "data.validation_split": 0.1}


@pytest.fixture(scope="module")
def trained(words, tmp_path_factory):
    return train_run(tmp_path_factory, **RUN, **{"data.path": words})


@pytest.mark.slow
def test_learns_far_beyond_chance(trained):
    _, summary = trained
    test = summary["test"]
    assert test["chance_accuracy"] == 0.2 and test["examples"] >= 35
    assert test["accuracy"] >= 0.8 and test["macro_f1"] >= 0.8, test


@pytest.mark.slow
def test_run_folder_predict_and_evaluate(trained, words, tmp_path):
    from tfbig.inference import load_run

    run_dir, summary = trained
    check_run_folder(run_dir, summary, ["labels.json", "plots/confusion_matrix.png",
                                        "plots/per_class.png"])
    saved = config_lib.from_dict(run_folder.read_json(os.path.join(run_dir, "config.json")))
    assert (saved.data.sample_rate, saved.data.clip_seconds) == (8000, 0.7)  # from the data
    assert saved.data.augment == {"time_width": 8, "time_masks": 2, "freq_width": 5,
                                  "freq_masks": 2}
    loaded = load_run(run_dir)
    paths = [clip_path(words, word, 0) for word in WORDS]
    outputs = predict_lines(loaded, [paths[0], "", *paths[1:]])
    assert outputs[1] == ""
    answers = [line.split("\t") for line in outputs if line]
    assert all(label in WORDS and 0.2 <= float(probability) <= 1.0
               and len(probability) == 6 for label, probability in answers), outputs
    task, model = loaded
    with pytest.raises(TfbigError, match=r"^input line 2: .*absent\.wav: no such file "
                                         r"\(expected one \.wav path per line\)$"):
        task.predict_texts(model, [paths[0], str(tmp_path / "absent.wav")])
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(TfbigError, match=rf"^input line 1: {re.escape(str(text))}: not a WAV "
                                         rf"file"):
        task.predict_texts(model, [str(text)])
    _, rows = check_evaluate(run_dir, summary, tmp_path,
                             plots=["confusion_matrix.png", "per_class.png"])
    assert list(rows[0]) == ["path", "label", "prediction", "loss"]


def write_stereo_16k(source, path):
    """``source`` (8 kHz mono 16-bit) as 16 kHz stereo: each sample twice, right channel
    at half the level; the graph and the pipeline must both resample and downmix it."""
    with wave.open(source, "rb") as file:
        mono = np.frombuffer(file.readframes(file.getnframes()), "<i2")
    stereo = np.stack([np.repeat(mono, 2), np.repeat(mono, 2) // 2], axis=1)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(2)
        file.setsampwidth(2)
        file.setframerate(16000)
        file.writeframes(stereo.astype("<i2").tobytes())
    return str(path)


@pytest.mark.slow
def test_export_answers_from_wav_bytes_as_predict_does(trained, words, tmp_path):
    import tensorflow as tf

    from tfbig.exporting import export_run
    from tfbig.inference import load_run

    run_dir, _ = trained
    info = export_run(run_dir, str(tmp_path / "exported"), log=lambda message: None)
    assert (info["sample_rate"], info["clip_seconds"], info["labels"]) == (8000, 0.7,
                                                                          list(WORDS))
    serve = tf.saved_model.load(str(tmp_path / "exported")).signatures["serving_default"]
    paths = [clip_path(words, word, index) for word in WORDS for index in (1, 2)]
    paths += [write_stereo_16k(paths[0], tmp_path / "stereo_16k.wav"), ""]
    outputs = serve(inputs=tf.constant([Path(p).read_bytes() if p else b"" for p in paths]))
    task, model = load_run(run_dir)
    expected = task.probabilities(model, paths[:-1])
    probabilities = outputs["probabilities"].numpy()
    np.testing.assert_allclose(probabilities[:-1], expected, atol=1e-5)
    assert probabilities[-1].sum() == 0  # the blank input
    labels = [value.decode() for value in outputs["labels"].numpy()]
    assert labels == [line.split("\t")[0] for line in task.predict_texts(model, paths)]
    with pytest.raises(tf.errors.InvalidArgumentError, match="WAV input: not a WAV file"):
        serve(inputs=tf.constant([b"RIFF but not a wave"]))


@pytest.mark.slow
def test_predict_command_prints_one_line_each_and_one_line_errors(trained, words, tmp_path,
                                                                  capsys):
    from tfbig.cli import run
    from tfbig.predict import main

    run_dir, _ = trained
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(f"{clip_path(words, 'sumo', 3)}\n\n", encoding="utf-8")
    bad.write_text("\nnowhere.wav\n", encoding="utf-8")
    assert run(main, ["--run", run_dir, "--input", str(good)]) == 0
    output = capsys.readouterr().out
    label, probability = output.split("\n")[0].split("\t")
    assert label in WORDS and output.endswith("\n\n") and float(probability) > 0.2
    assert run(main, ["--run", run_dir, "--input", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: input line 2: nowhere.wav: no such file (expected one .wav path per line)")


@pytest.mark.slow
def test_resuming_keeps_the_rate_and_length_taken_from_the_data(trained, words):
    # The same command again resumes a run: its config (sample_rate=0, clip_seconds=0) must
    # match the saved one, where both were filled from the data.
    from tfbig.runs.fit import _resume_config

    run_dir, _ = trained
    saved = config_lib.from_dict(run_folder.read_json(os.path.join(run_dir, "config.json")))
    again = resolve_config({**TINY, **RUN, "data.path": words})
    assert (again.data.sample_rate, again.data.clip_seconds) == (0, 0.0)
    assert _resume_config(again, run_dir) == saved


def task_on(folder, **overrides):
    task = get_task(resolve_config({"task": "audio", "data.path": folder, **overrides}))
    splits, _ = task.load_splits()
    task.learn_assets(splits["train"])
    return task, splits


def test_rate_and_clip_length_come_from_the_training_split_unless_set(tmp_path):
    folder = copy_slice(tmp_path / "words", 6, WORDS[:2])
    task, splits = task_on(folder)
    longest = max(task._header(path).seconds for path, _ in splits["train"])
    data = task.resolve_lengths(splits["train"]).data
    assert data.sample_rate == 8000 and longest <= data.clip_seconds < longest + 0.01
    task, splits = task_on(folder, **{"data.sample_rate": 16000, "data.clip_seconds": 0.5})
    data = task.resolve_lengths(splits["train"]).data
    assert (data.sample_rate, data.clip_seconds, task.num_frames) == (16000, 0.5, 48)


def test_spec_augment_is_on_in_training_and_off_in_evaluation(tmp_path):
    from tfbig.data import audio_features
    from tfbig.data.audio_files import read_wav
    from tfbig.data.pipeline_audio import SPEC_AUGMENT

    from tfbig.tasks.audio import SPEC_AUGMENT as TASK_DEFAULT

    assert TASK_DEFAULT == SPEC_AUGMENT  # the task's default is the pipeline's policy
    folder = copy_slice(tmp_path / "words", 4, WORDS[:2])

    def features(training, **overrides):
        task, splits = task_on(folder, **{"data.validation_split": 0.0,
                                          "data.test_split": 0.0, **overrides})
        task.resolve_lengths(splits["train"])
        batches = task.dataset(splits["train"], training=training, batch_size=8)
        return np.concatenate([x.numpy() for x, _ in batches]), splits["train"], task

    masked, _, task = features(True)
    plain, _, _ = features(True, **{"data.augment": {}})
    assert masked.shape == plain.shape == (8, task.num_frames, 40)
    changed = masked != plain
    assert changed.any() and (masked[changed] == 0).all()  # masks set whole bands to 0
    for example in range(len(masked)):  # every masked value lies in a fully masked band
        rows, columns = np.nonzero(changed[example])
        zero = masked[example] == 0
        assert all(zero[row].all() or zero[:, column].all()
                   for row, column in zip(rows, columns))
    evaluated, examples, _ = features(False)
    np.testing.assert_array_equal(evaluated, features(False, **{"data.augment": {}})[0])
    audio, rate = read_wav(examples[0][0])
    length = round(task.config.data.clip_seconds * rate)
    centred = audio_features.normalize_utterance(audio_features.log_mel_spectrogram(
        audio_features.fit_duration(audio, length), rate))
    np.testing.assert_allclose(evaluated[0], centred, atol=1e-5)


def test_a_file_that_is_not_wav_is_refused_naming_it(tmp_path):
    from tfbig.runs.fit import train

    folder = copy_slice(tmp_path / "words", 3, WORDS[:2])
    bad = tmp_path / "words" / WORDS[1] / "broken.wav"
    bad.write_bytes(b"ID3\x04 an mp3 renamed")
    config = resolve_config({"task": "audio", "data.path": folder})
    with pytest.raises(TfbigError) as error:
        train(config, str(tmp_path / "run"), verbose=0)
    assert str(error.value) == (f"{bad}: not a WAV file (no RIFF/WAVE header); expected a PCM "
                                f"WAV file: 8, 16, 24 or 32-bit integer or 32/64-bit float "
                                f"samples")
    assert not (tmp_path / "run").exists()


def test_a_folder_with_one_class_is_refused(tmp_path):
    from tfbig.runs.fit import train

    folder = copy_slice(tmp_path / "one", 3, WORDS[:1])
    config = resolve_config({"task": "audio", "data.path": folder})
    with pytest.raises(TfbigError, match=r"^.*one: found 1 class folders \(kapi\); expected "
                                         r"at least 2 class_name/ folders of \.wav files$"):
        train(config, str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("augment, message", [
    ({"time_mask": 8}, r"^unknown audio augmentation 'time_mask'; valid keys: time_width, "
                       r"time_masks, freq_width, freq_masks, noise_stddev, mask_value"),
    ({"freq_masks": -1}, r"^data\.augment\.freq_masks=-1: expected an int >= 0$"),
    ({"time_width": 2.5}, r"^data\.augment\.time_width=2\.5: expected an int >= 0$"),
    ({"noise_stddev": -0.1}, r"^data\.augment\.noise_stddev=-0\.1: expected a number >= 0$"),
])
def test_bad_spec_augment_settings_name_their_field(augment, message):
    task = get_task(resolve_config({"task": "audio", "data.augment": augment}))
    with pytest.raises(TfbigError, match=message):
        task.check_augment()


def test_models_by_name():
    task = get_task(resolve_config({"task": "audio"}))
    assert task.config.model_name == "cnn"
    with pytest.raises(TfbigError, match=r"--model vit cannot do the audio task; use one of: "
                                         r"cnn, transformer"):
        resolve_config({"task": "audio", "model.name": "vit"})


@pytest.mark.slow
def test_transformer_run_exports_and_predicts_alike(tmp_path):
    # Initial weights (a zero head gives equal probabilities; the last layer gets random
    # weights here so that the answers differ): the graph is what is compared.
    import keras
    import tensorflow as tf

    from tfbig.exporting import export_run
    from tfbig.inference import load_run

    folder = copy_slice(tmp_path / "words", 4, WORDS[:3])
    task, splits = task_on(folder, **{"model.name": "transformer", "model.num_layers": 1})
    config = task.resolve_lengths(splits["train"])
    run_dir = tmp_path / "run"
    os.makedirs(run_dir)
    task.save_assets(str(run_dir))
    config.save(str(run_dir / run_folder.CONFIG))
    keras.utils.set_random_seed(0)
    model = task.build_model()
    assert type(model).__name__ == "AudioTransformer" and model.patch_size == 4
    head = model.classifier.kernel
    head.assign(np.random.default_rng(0).normal(size=head.shape).astype("float32"))
    run_folder.save_model(model, str(run_dir))
    export_run(str(run_dir), str(tmp_path / "exported"), log=lambda message: None)
    serve = tf.saved_model.load(str(tmp_path / "exported")).signatures["serving_default"]
    paths = [path for path, _ in splits["train"]]
    outputs = serve(inputs=tf.constant([Path(path).read_bytes() for path in paths]))
    task, model = load_run(str(run_dir))
    np.testing.assert_allclose(outputs["probabilities"].numpy(),
                               task.probabilities(model, paths), atol=1e-5)
