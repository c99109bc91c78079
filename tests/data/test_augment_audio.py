"""Tests of tfbig.data.augment_audio: SpecAugment masks and noise on [time, freq] arrays."""

import numpy as np
import pytest
import tensorflow as tf

from tfbig.data import augment_audio as A
from tfbig.errors import TfbigError

TIME, FREQ = 100, 40


@pytest.fixture(scope="module")
def spectrogram():
    return np.random.default_rng(0).uniform(1, 2, (TIME, FREQ)).astype(np.float32)  # no zeros


OPS = {
    "time_mask": lambda x, s: A.time_mask(x, s, max_width=20, num_masks=2),
    "frequency_mask": lambda x, s: A.frequency_mask(x, s, max_width=8, num_masks=2),
    "noise": lambda x, s: A.gaussian_noise(x, s, stddev=0.1),
    "spec_augment": lambda x, s: A.spec_augment(x, s, time_width=20, time_masks=2,
                                                freq_width=8, freq_masks=2, noise_stddev=0.1),
}


@pytest.mark.parametrize("name", OPS)
def test_deterministic_eager_equals_tf_data_and_seeds_differ(name, spectrogram,
                                                             eager_and_mapped):
    out = eager_and_mapped(OPS[name], spectrogram, np.array([1, 2]))
    assert out.shape == (TIME, FREQ) and out.dtype == np.float32
    outputs = [OPS[name](spectrogram, [seed, 0]).numpy() for seed in range(4)]
    assert any(not np.array_equal(outputs[0], other) for other in outputs[1:])


def masked_fraction(op, spectrogram, axis, seeds=200):
    """Mean fraction of whole rows (axis=1) or columns (axis=0) zeroed, over many seeds."""
    fractions = []
    op = tf.function(op)  # traced once: 200 graph calls are much faster than eager ones
    for seed in range(seeds):
        zero = op(spectrogram, tf.constant([seed, 9])).numpy() == 0
        whole = zero.all(axis=axis)
        assert (zero.any(axis=axis) == whole).all()  # masks cover whole steps/channels only
        fractions.append(whole.mean())
    return np.mean(fractions)


def test_time_mask_hides_the_expected_fraction_of_time_steps(spectrogram):
    op = lambda x, s: A.time_mask(x, s, max_width=20, num_masks=1)  # noqa: E731
    # width uniform in 0..20: 10 steps of 100 on average
    assert abs(masked_fraction(op, spectrogram, axis=1) - 0.10) < 0.015


def test_frequency_mask_hides_the_expected_fraction_of_channels(spectrogram):
    op = lambda x, s: A.frequency_mask(x, s, max_width=8, num_masks=1)  # noqa: E731
    assert abs(masked_fraction(op, spectrogram, axis=0) - 4 / FREQ) < 0.015


def test_noise_has_the_requested_spread_and_off_switches_are_identities(spectrogram):
    noise = A.gaussian_noise(spectrogram, [0, 1], stddev=0.5).numpy() - spectrogram
    assert abs(noise.mean()) < 0.03 and abs(noise.std() - 0.5) < 0.03
    np.testing.assert_array_equal(A.spec_augment(spectrogram, [0, 1]), spectrogram)
    np.testing.assert_array_equal(A.time_mask(spectrogram, [0, 1], max_width=0), spectrogram)


def test_a_mask_wider_than_the_spectrogram_covers_it_all():
    out = A.frequency_mask(np.ones((3, 4), np.float32), [0, 0], max_width=50, num_masks=20)
    assert out.shape == (3, 4)
    assert (out.numpy() == 0).all(axis=0).any()


@pytest.mark.parametrize("make, message", [
    (lambda: A.time_mask(np.ones((4, 4)), [0, 0], max_width=-1), r"max_width=-1: expected an "
                                                                 r"int >= 0"),
    (lambda: A.frequency_mask(np.ones((4, 4)), [0, 0], max_width=2, num_masks=1.5),
     r"num_masks=1\.5: expected an int >= 0"),
    (lambda: A.gaussian_noise(np.ones((4, 4)), [0, 0], stddev=-0.1), r"stddev=-0\.1: expected"),
])
def test_bad_settings_are_named(make, message):
    with pytest.raises(TfbigError, match=message):
        make()
