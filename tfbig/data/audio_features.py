"""Waveform → log-mel features, as TensorFlow ops that work eagerly and in ``tf.data``.

    audio float32 [samples] at rate r → resample (r → sample_rate) → fit_duration (crop/pad)
    → log_mel_spectrogram [frames, num_mels] → normalize_utterance

A waveform is a float32 ``[samples]`` vector in -1..1 (``audio_files`` reads them). Every op
is deterministic, or stateless-random from a ``[2]`` seed, so an example gets the same
features eagerly and inside ``Dataset.map`` (tested). Defaults are the usual ones for speech:
25 ms Hann windows every 10 ms, 40 mel bands from 20 Hz to the Nyquist frequency, natural
log of the mel power with a small offset, then per-utterance normalisation.
"""

import functools
import math
import numbers

import tensorflow as tf

from tfbig.errors import TfbigError

WINDOW_MS = 25.0  # analysis window
HOP_MS = 10.0  # step between windows: 100 frames a second
NUM_MELS = 40
LOWER_HZ = 20.0  # lowest mel band edge
LOG_OFFSET = 1e-6  # log(mel power + offset): digital silence gives log(1e-6) = -13.8, not -inf


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise TfbigError(f"{name}={value!r}: expected a number > 0")


def resample(audio, from_rate, to_rate):
    """Band-limited resampling of a whole clip: ``[n]`` at ``from_rate`` → ``[m]`` at
    ``to_rate``, ``m = round(n · to_rate / from_rate)``.

    The clip's spectrum (one ``rfft``) is cut to the frequencies both rates can hold (or
    zero-padded when upsampling) and transformed back at the new length: an ideal low-pass
    filter, so a tone below both Nyquist frequencies keeps its frequency and amplitude and
    anything above the new Nyquist frequency is removed, not aliased. The clip is treated as
    periodic, so its two ends can ring slightly into each other; nothing is shifted in
    time. Equal to ``scipy.signal.resample(audio, m)`` (tested), Nyquist bin included.

    ``from_rate`` may be a tensor (each file's rate inside ``tf.data``); ``to_rate`` is the
    dataset's rate. Equal rates return the clip unchanged.
    """
    audio = tf.convert_to_tensor(audio, tf.float32)
    if isinstance(from_rate, numbers.Integral) and from_rate == to_rate:
        return audio

    def fft_resample():
        n = tf.shape(audio)[0]
        ratio = tf.cast(to_rate, tf.float64) / tf.cast(from_rate, tf.float64)
        m = tf.maximum(tf.cast(tf.round(tf.cast(n, tf.float64) * ratio), tf.int32), 1)
        shorter = tf.minimum(n, m)
        half = shorter // 2  # the last bin both lengths share: Nyquist of the shorter if even
        spectrum = tf.signal.rfft(audio)[:half + 1]  # (half + 1,) complex64
        # An even length's Nyquist bin stands for +f and -f at once: split it in two when
        # upsampling, fold the two halves into it when downsampling (as scipy does).
        nyquist = tf.where(shorter % 2 == 1, 1.0, tf.where(m < n, 2.0, 0.5))
        scale = tf.concat([tf.ones([half]), [nyquist]], axis=0)
        spectrum = spectrum * tf.cast(scale, spectrum.dtype)
        spectrum = tf.pad(spectrum, [[0, m // 2 - half]])  # (m // 2 + 1,)
        return tf.signal.irfft(spectrum, fft_length=[m]) * tf.cast(m / n, tf.float32)

    return tf.cond(tf.equal(tf.cast(from_rate, tf.int64), tf.cast(to_rate, tf.int64)),
                   lambda: audio, fft_resample)


def fit_duration(audio, num_samples, seed=None):
    """``[n]`` → ``[num_samples]``: a window of ``num_samples`` over the clip, zeros outside.

    Without a seed the window is centred (evaluation: a long clip loses equal parts at both
    ends, a short one gets equal silence on both sides; an odd sample more is cut at the end
    or padded at the start). With a ``[2]`` seed it starts at a
    uniformly drawn place (training): a random crop of a long clip, a random position of a
    short clip inside the silence — the same augmentation either way, a shift in time.
    """
    audio = tf.convert_to_tensor(audio, tf.float32)
    excess = tf.shape(audio)[0] - num_samples  # > 0: crop; < 0: pad
    if seed is None:
        start = excess // 2  # floor: negative when padding, i.e. the window starts before
    else:
        low, high = tf.minimum(excess, 0), tf.maximum(excess, 0)
        start = tf.random.stateless_uniform([], seed, minval=low, maxval=high + 1,
                                            dtype=tf.int32)
    front = tf.maximum(-start, 0)
    back = tf.maximum(start + num_samples - tf.shape(audio)[0], 0)
    padded = tf.pad(audio, [[front, back]])
    window = padded[start + front:start + front + num_samples]
    return tf.ensure_shape(window, [num_samples])


def frame_sizes(sample_rate, window_ms=WINDOW_MS, hop_ms=HOP_MS):
    """``(frame_length, frame_step, fft_length)`` in samples; the FFT is the next power of 2."""
    _positive("sample_rate", sample_rate)
    _positive("window_ms", window_ms)
    _positive("hop_ms", hop_ms)
    frame_length = max(1, round(sample_rate * window_ms / 1000))
    frame_step = max(1, round(sample_rate * hop_ms / 1000))
    return frame_length, frame_step, 2 ** math.ceil(math.log2(frame_length))


def num_frames(num_samples, sample_rate, window_ms=WINDOW_MS, hop_ms=HOP_MS):
    """Frames of ``log_mel_spectrogram`` for a clip of ``num_samples`` (whole windows only)."""
    frame_length, frame_step, _ = frame_sizes(sample_rate, window_ms, hop_ms)
    if num_samples < frame_length:
        raise TfbigError(f"a clip of {num_samples} samples at {sample_rate} Hz is shorter than "
                         f"one {window_ms} ms analysis window ({frame_length} samples); "
                         f"use a longer duration")
    return 1 + (num_samples - frame_length) // frame_step


def log_mel_spectrogram(audio, sample_rate, *, num_mels=NUM_MELS, window_ms=WINDOW_MS,
                        hop_ms=HOP_MS, lower_hz=LOWER_HZ, upper_hz=None,
                        log_offset=LOG_OFFSET):
    """``[..., samples]`` → ``[..., frames, num_mels]``: ``log(mel power + log_offset)``.

    Hann-windowed STFT frames of ``window_ms`` every ``hop_ms`` (only whole windows:
    ``num_frames`` of them), power spectrum, triangular mel filters from ``lower_hz`` to
    ``upper_hz`` (default: ``sample_rate / 2``), natural log.
    """
    frame_length, frame_step, fft_length = frame_sizes(sample_rate, window_ms, hop_ms)
    if isinstance(num_mels, bool) or not isinstance(num_mels, int) or num_mels < 1:
        raise TfbigError(f"num_mels={num_mels!r}: expected an int >= 1")
    upper_hz = sample_rate / 2 if upper_hz is None else upper_hz
    if not 0 <= lower_hz < upper_hz <= sample_rate / 2:
        raise TfbigError(f"mel band edges {lower_hz} to {upper_hz} Hz: expected 0 <= lower < "
                         f"upper <= {sample_rate / 2} (half the sample rate)")
    stft = tf.signal.stft(tf.convert_to_tensor(audio, tf.float32), frame_length, frame_step,
                          fft_length)  # (..., frames, fft_length // 2 + 1) complex64
    power = tf.math.real(stft * tf.math.conj(stft))
    filters = mel_filters(num_mels, fft_length // 2 + 1, sample_rate, lower_hz, upper_hz)
    return tf.math.log(tf.matmul(power, filters) + log_offset)  # (..., frames, num_mels)


@functools.lru_cache(maxsize=32)
def mel_filters(num_mels, num_bins, sample_rate, lower_hz, upper_hz):
    """``tf.signal.linear_to_mel_weight_matrix`` as a NumPy ``[num_bins, num_mels]`` array.

    Computed once, eagerly: built inside a ``tf.data`` map, graph constant folding computes
    the same matrix with other rounding (up to 7e-6 apart), and the features would differ
    between the pipeline and eager use (serving, tests).
    """
    with tf.init_scope():
        return tf.signal.linear_to_mel_weight_matrix(
            num_mels, num_bins, sample_rate, lower_hz, upper_hz).numpy()


def normalize_utterance(log_mel, *, per_mel_bin=False, epsilon=1e-5):
    """Zero mean, unit variance per clip: ``[..., frames, mels]`` → the same shape.

    By default one mean and one variance over the whole clip (all frames and bands). A gain
    adds the same constant to every log-mel value, so this removes loudness and nothing
    else: the spectral shape of each frame, where formants show which sound is spoken,
    stays. ``per_mel_bin=True`` is cepstral mean and variance normalisation instead: each
    band over time, which also removes a fixed microphone or channel colouring, but on a
    short clip that holds one word the band means are mostly the word's own average
    spectrum (it is removed too) and the band variances, from a few dozen frames, are noisy.
    Normalising before SpecAugment makes its masks (value 0) the clip's mean.
    """
    log_mel = tf.convert_to_tensor(log_mel, tf.float32)
    axes = [-2] if per_mel_bin else [-2, -1]
    mean, variance = tf.nn.moments(log_mel, axes=axes, keepdims=True)
    return (log_mel - mean) * tf.math.rsqrt(variance + epsilon)
