"""tfbig.data.pipeline_audio: WAV files → log-mel batches; SpecAugment in training only."""

import re

import numpy as np
import pytest

from tfbig.data import audio_features as F
from tfbig.data.audio_files import read_wav
from tfbig.data.pipeline_audio import audio_dataset
from tfbig.data.samples_audio import WORDS, word_clip, write_wav
from tfbig.errors import TfbigError

MASKS = {"time_width": 15, "time_masks": 2, "freq_width": 8, "freq_masks": 2}
DURATION = 0.5  # seconds: the clips are 0.4 to 0.7 s, so some are cropped, some padded


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Six spoken-word clips (8 kHz), the last one written at 16 kHz (upsampled 2×)."""
    folder = tmp_path_factory.mktemp("clips")
    paths, labels = [], []
    for index in range(6):
        label = index % 3
        samples = word_clip(WORDS[label], np.random.default_rng([5, index]))
        rate = 8000
        if index == 5:
            rate, samples = 16000, np.repeat(samples, 2)
        path = folder / f"{WORDS[label]}_{index}.wav"
        write_wav(path, samples, rate)
        paths.append(str(path))
        labels.append(label)
    return paths, labels


def batches(dataset):
    features, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(features), np.concatenate(labels)


def masked_rows(features):
    """Frames (whole rows) set to exactly 0, as SpecAugment's time masks do."""
    return int(np.sum(np.all(features == 0, axis=-1)))


def test_evaluation_batches_are_the_eager_features_in_order(clips):
    paths, labels = clips
    dataset = audio_dataset(paths, labels, sample_rate=8000, duration=DURATION, batch_size=4,
                            spec_augment=MASKS)  # training=False: no crops, no masks
    frames = F.num_frames(4000, 8000)
    assert dataset.element_spec[0].shape.as_list() == [None, frames, F.NUM_MELS]
    features, got_labels = batches(dataset)
    assert features.shape == (6, frames, 40) and features.dtype == np.float32
    assert got_labels.tolist() == labels
    for path, mapped in zip(paths, features):
        audio, _ = read_wav(path, sample_rate=8000)  # the 16 kHz file is resampled
        expected = F.normalize_utterance(F.log_mel_spectrogram(F.fit_duration(audio, 4000), 8000))
        np.testing.assert_array_equal(mapped, expected)
    assert masked_rows(features) == 0
    np.testing.assert_array_equal(batches(dataset)[0], features)  # the same every epoch


def test_training_masks_and_crops_reproducibly_and_differently_each_epoch(clips):
    paths, labels = clips

    def training(seed, spec_augment=MASKS):
        return audio_dataset(paths, labels, sample_rate=8000, duration=DURATION, batch_size=4,
                             shuffle=True, seed=seed, training=True, spec_augment=spec_augment)

    dataset = training(seed=3)
    first, first_labels = batches(dataset)
    second, _ = batches(dataset)
    assert masked_rows(first) >= 6  # SpecAugment on: every clip lost some frames
    assert sorted(first_labels.tolist()) == sorted(labels)
    assert not np.array_equal(first, second)  # new masks and crops every epoch
    again, again_labels = batches(training(seed=3))
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(again_labels, first_labels)
    assert not np.array_equal(batches(training(seed=4))[0], first)
    # Without SpecAugment training still crops at random places, but masks nothing.
    unmasked, _ = batches(training(seed=3, spec_augment=None))
    assert masked_rows(unmasked) == 0


def test_a_spec_augment_function_runs_in_training_only(clips):
    paths, labels = clips

    def mark(spectrogram, seed):
        return spectrogram + 100.0

    def features(training):
        return batches(audio_dataset(paths, labels, sample_rate=8000, duration=DURATION,
                                     batch_size=6, training=training, spec_augment=mark))[0]

    assert features(training=False).max() < 50 < features(training=True).min()


def test_sample_rate_zero_takes_the_first_files(clips):
    paths, labels = clips
    dataset = audio_dataset(paths[::-1], labels[::-1], sample_rate=0, duration=DURATION,
                            batch_size=6)  # the 16 kHz file first: 16 kHz features
    assert dataset.element_spec[0].shape[1] == F.num_frames(8000, 16000)


@pytest.mark.parametrize("arguments, message", [
    ({"labels": [0]}, r"got 6 audio paths and 1 labels; expected the same, non-zero number"),
    ({"duration": 0}, r"duration=0: expected a number of seconds > 0"),
    ({"duration": 0.01}, r"a clip of 80 samples at 8000 Hz is shorter than one 25.0 ms "
                         r"analysis window"),
    ({"spec_augment": {"time_mask": 5}, "training": True},
     r"spec_augment: unknown key\(s\) time_mask; valid: time_width, time_masks"),
    ({"spec_augment": [5], "training": True}, r"spec_augment: expected a dict of"),
    ({"sample_rate": -8000}, r"sample_rate=-8000: expected an int in Hz"),
])
def test_argument_errors(clips, arguments, message):
    paths, labels = clips
    arguments = {"labels": labels, "sample_rate": 8000, "duration": DURATION,
                 "batch_size": 2, **arguments}
    with pytest.raises(TfbigError, match=message):
        audio_dataset(paths, **arguments)


def test_a_bad_file_is_named_before_any_batch(clips, tmp_path):
    paths, labels = clips
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF")
    with pytest.raises(TfbigError, match=re.escape(f"{bad}: not a WAV file")):
        audio_dataset([*paths, str(bad)], [*labels, 0], sample_rate=8000, duration=DURATION,
                      batch_size=2)
