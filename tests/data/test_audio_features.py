"""tfbig.data.audio_features: resampling, crops, log-mel features; eager == tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from tfbig.data import audio_features as F
from tfbig.errors import TfbigError


def tone(frequency, rate, seconds=1.0, amplitude=0.5):
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(round(seconds * rate)) / rate)
            ).astype(np.float32)


def peak_hz(audio, rate):
    return np.argmax(np.abs(np.fft.rfft(audio))) * rate / len(audio)


@pytest.mark.parametrize("from_rate, to_rate", [(16000, 8000), (8000, 16000), (44100, 16000),
                                                (22050, 16000), (16000, 16000)])
def test_resampling_keeps_a_tone_and_equals_scipy(from_rate, to_rate, eager_and_mapped):
    audio = tone(440, from_rate)
    resampled = eager_and_mapped(lambda x, rate: F.resample(x, rate, to_rate), audio,
                                 np.int32(from_rate))
    assert resampled.shape == (to_rate,)  # one second at the new rate
    assert peak_hz(resampled, to_rate) == 440
    # A whole number of periods: the resampled clip is the same tone sampled at to_rate.
    np.testing.assert_allclose(resampled, tone(440, to_rate), atol=1e-4)
    scipy_signal = pytest.importorskip("scipy.signal")
    for length in (999, 1000, 1001):  # odd and even lengths: the Nyquist bins
        noise = np.random.default_rng(length).normal(size=length).astype(np.float32)
        expected = scipy_signal.resample(noise.astype(np.float64),
                                         round(length * to_rate / from_rate))
        np.testing.assert_allclose(F.resample(noise, from_rate, to_rate), expected, atol=1e-5)


def test_downsampling_removes_what_the_new_rate_cannot_hold():
    audio = tone(440, 16000) + tone(6000, 16000)  # 6 kHz is above 8 kHz's Nyquist (4 kHz)
    resampled = F.resample(audio, 16000, 8000).numpy()
    np.testing.assert_allclose(resampled, tone(440, 8000), atol=1e-4)  # gone, not aliased


def test_equal_rates_return_the_clip_itself():
    audio = np.random.default_rng(0).normal(size=777).astype(np.float32)
    np.testing.assert_array_equal(F.resample(audio, 8000, 8000), audio)
    np.testing.assert_array_equal(F.resample(audio, tf.constant(8000), 8000), audio)


def test_centred_crops_and_pads():
    clip = np.arange(1, 11, dtype=np.float32)  # 1..10
    np.testing.assert_array_equal(F.fit_duration(clip, 4), [4, 5, 6, 7])
    np.testing.assert_array_equal(F.fit_duration(clip, 10), clip)
    np.testing.assert_array_equal(F.fit_duration(clip[:3], 6), [0, 0, 1, 2, 3, 0])
    np.testing.assert_array_equal(F.fit_duration(clip, 5), [3, 4, 5, 6, 7])


@pytest.mark.parametrize("length, size", [(50, 20), (20, 50)])
def test_random_windows_are_seeded_and_keep_the_clip_in_order(length, size, eager_and_mapped):
    clip = np.arange(1, length + 1, dtype=np.float32)
    windows = []
    for seed in range(30):
        window = eager_and_mapped(lambda x, s: F.fit_duration(x, size, s), clip,
                                  np.array([seed, 7]))
        values = window[window > 0]
        assert len(values) == min(length, size) and np.all(np.diff(values) == 1)
        windows.append(window.tobytes())
    assert len(set(windows)) > 10  # many places drawn


def test_log_mel_shape_and_a_tone_in_its_band(eager_and_mapped):
    rate = 8000
    features = eager_and_mapped(lambda x: F.log_mel_spectrogram(x, rate), tone(1000, rate))
    frames = F.num_frames(rate, rate)
    assert features.shape == (frames, F.NUM_MELS) == (98, 40)  # 25 ms windows, 10 ms hops
    assert features.dtype == np.float32
    edges = tf.signal.linear_to_mel_weight_matrix(F.NUM_MELS, 129, rate, F.LOWER_HZ, 4000.0)
    band = np.argmax(edges.numpy()[round(1000 / (rate / 256))])  # the band peaking at 1 kHz
    assert set(np.argmax(features, axis=1)) == {band}
    silence = F.log_mel_spectrogram(np.zeros(800, np.float32), rate).numpy()
    np.testing.assert_allclose(silence, np.log(F.LOG_OFFSET))  # finite, not -inf
    batch = F.log_mel_spectrogram(np.stack([tone(1000, rate)] * 2), rate)
    np.testing.assert_allclose(batch[1], features, atol=1e-5)


def test_frames_and_fft_sizes():
    assert F.frame_sizes(16000) == (400, 160, 512)
    assert F.frame_sizes(8000) == (200, 80, 256)
    assert F.num_frames(400, 16000) == 1 and F.num_frames(16000, 16000) == 98
    with pytest.raises(TfbigError, match=r"a clip of 100 samples at 8000 Hz is shorter than "
                                         r"one 25.0 ms analysis window \(200 samples\)"):
        F.num_frames(100, 8000)


@pytest.mark.parametrize("arguments, message", [
    ({"num_mels": 0}, r"num_mels=0: expected an int >= 1"),
    ({"window_ms": 0}, r"window_ms=0: expected a number > 0"),
    ({"upper_hz": 5000}, r"mel band edges 20.0 to 5000 Hz: expected 0 <= lower < upper <= "
                         r"4000.0 \(half the sample rate\)"),
])
def test_log_mel_argument_errors(arguments, message):
    with pytest.raises(TfbigError, match=message):
        F.log_mel_spectrogram(tone(440, 8000), 8000, **arguments)


def test_normalisation_removes_loudness_and_keeps_spectral_shape(eager_and_mapped):
    rng = np.random.default_rng(0)
    audio = (tone(300, 8000) + tone(1200, 8000, amplitude=0.2)
             + rng.normal(0, 0.01, 8000).astype(np.float32))

    def features(x, log_offset=F.LOG_OFFSET):
        return F.normalize_utterance(F.log_mel_spectrogram(x, 8000, log_offset=log_offset))

    loud = eager_and_mapped(features, audio)
    np.testing.assert_allclose([loud.mean(), loud.std()], [0, 1], atol=1e-4)
    # -20 dB gives the same features, up to the log offset (which floors the quietest bands).
    np.testing.assert_allclose(features(audio / 10, 1e-12), features(audio, 1e-12), atol=1e-3)
    assert np.abs(features(audio / 10) - loud).mean() < 0.01
    # Over the whole clip, the 300 Hz band stays louder than the others ...
    assert np.all(np.argmax(loud, axis=1) == np.argmax(loud[0]))
    # ... per mel bin, every band is zero-mean over time: the spectral shape is gone.
    per_bin = F.normalize_utterance(F.log_mel_spectrogram(audio, 8000), per_mel_bin=True)
    np.testing.assert_allclose(np.mean(per_bin, axis=0), 0, atol=1e-3)
    assert np.ptp(np.mean(loud, axis=0)) > 1  # whole clip: band means far apart
