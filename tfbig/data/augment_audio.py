"""Spectrogram augmentation (SpecAugment): pure ``(spectrogram, seed) -> spectrogram`` ops.

A spectrogram is float ``[time, freq]`` (e.g. a log-mel spectrogram); leading batch axes
``[..., time, freq]`` are allowed and then share the same masks. Seeds are shape-``[2]``
integers; every op uses stateless random ops only, so it gives the same result eagerly and
inside ``tf.data.Dataset.map``.

Reference: Park et al., "SpecAugment: A Simple Data Augmentation Method for Automatic Speech
Recognition", 2019, https://arxiv.org/abs/1904.08779 (time warping is left out: the paper
finds it the least useful and the most expensive).
"""

import tensorflow as tf

from tfbig.errors import TfbigError


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TfbigError(f"{name}={value!r}: expected an int >= 0")


def _band_mask(size, seed, max_width, num_masks):
    """``[size]`` bool: the union of ``num_masks`` bands, each of a width drawn uniformly from
    ``0..max_width`` (capped at ``size``) and starting uniformly where it fits."""
    width_seed, start_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    widths = tf.random.stateless_uniform([num_masks], width_seed, minval=0,
                                         maxval=max_width + 1, dtype=tf.int32)
    widths = tf.minimum(widths, size)
    room = tf.cast(size - widths + 1, tf.float32)  # possible starts of each band
    starts = tf.cast(tf.random.stateless_uniform([num_masks], start_seed) * room, tf.int32)
    positions = tf.range(size)[None, :]  # [1, size]
    inside = (positions >= starts[:, None]) & (positions < (starts + widths)[:, None])
    return tf.reduce_any(inside, axis=0)  # [size]


def time_mask(spectrogram, seed, *, max_width, num_masks=1, mask_value=0.0):
    """Set ``num_masks`` bands of up to ``max_width`` consecutive time steps to
    ``mask_value`` (the paper's ``T`` and ``m_T``)."""
    _check_count("max_width", max_width)
    _check_count("num_masks", num_masks)
    spectrogram = tf.convert_to_tensor(spectrogram)
    masked = _band_mask(tf.shape(spectrogram)[-2], seed, max_width, num_masks)  # [time]
    return tf.where(masked[:, None], tf.cast(mask_value, spectrogram.dtype), spectrogram)


def frequency_mask(spectrogram, seed, *, max_width, num_masks=1, mask_value=0.0):
    """Set ``num_masks`` bands of up to ``max_width`` consecutive frequency channels to
    ``mask_value`` (the paper's ``F`` and ``m_F``)."""
    _check_count("max_width", max_width)
    _check_count("num_masks", num_masks)
    spectrogram = tf.convert_to_tensor(spectrogram)
    masked = _band_mask(tf.shape(spectrogram)[-1], seed, max_width, num_masks)  # [freq]
    return tf.where(masked, tf.cast(mask_value, spectrogram.dtype), spectrogram)


def gaussian_noise(spectrogram, seed, *, stddev):
    """Add independent ``N(0, stddev²)`` noise to every value."""
    if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
        raise TfbigError(f"stddev={stddev!r}: expected a number >= 0")
    spectrogram = tf.convert_to_tensor(spectrogram)
    noise = tf.random.stateless_normal(tf.shape(spectrogram), seed, stddev=stddev,
                                       dtype=spectrogram.dtype)
    return spectrogram + noise


def spec_augment(spectrogram, seed, *, time_width=0, time_masks=0, freq_width=0,
                 freq_masks=0, noise_stddev=0.0, mask_value=0.0):
    """Time masks, then frequency masks, then noise; each part off when its size is 0.

    Each part draws from ``stateless_fold_in(seed, k)`` (k = 1, 2, 3), so switching one
    off leaves the others as they were. The paper's LibriSpeech "LD" policy is
    ``time_width=100, time_masks=2, freq_width=27, freq_masks=2``.
    """
    fold_in = tf.random.experimental.stateless_fold_in
    if time_width and time_masks:
        spectrogram = time_mask(spectrogram, fold_in(seed, 1), max_width=time_width,
                                num_masks=time_masks, mask_value=mask_value)
    if freq_width and freq_masks:
        spectrogram = frequency_mask(spectrogram, fold_in(seed, 2), max_width=freq_width,
                                     num_masks=freq_masks, mask_value=mask_value)
    if noise_stddev:
        spectrogram = gaussian_noise(spectrogram, fold_in(seed, 3), stddev=noise_stddev)
    return spectrogram
