"""The audio pipeline: WAV paths in, ``(log-mel float32 [B, frames, mels], labels)`` out.

    paths, labels → check every header (Python) → read + decode + mono + resample (parallel)
    → cache → [repeat] → enumerate → [shuffle] → enumerate
    → crop/pad to ``duration`` (centred; random when training) → log-mel → normalise
    → [SpecAugment when training] → batch → prefetch

The cache holds the decoded waveforms at the dataset's rate (``4 · sample_rate`` bytes a
second of audio), so every epoch draws new crops and masks from the same decoded files.
Evaluation (``training=False``) is deterministic: centred windows, no masks.
"""

import tensorflow as tf

from tfbig.data import audio_features
from tfbig.data.audio_files import load_wav, resolve_sample_rate, wav_columns, wav_info
from tfbig.data.augment_audio import spec_augment as apply_spec_augment
from tfbig.data.batching import (AUGMENT, AUTOTUNE, cache_dataset, example_seed, finish,
                                 resolve_seed, shuffle_keyed)
from tfbig.errors import TfbigError

# The default SpecAugment policy, sized for ~1 s clips (100 frames) and 40 mel bands: two
# time masks of up to 80 ms and two frequency masks of up to 5 bands (the paper's LibriSpeech
# policies mask up to 100 frames of utterances ten times longer). Keys: augment_audio's.
SPEC_AUGMENT = {"time_width": 8, "time_masks": 2, "freq_width": 5, "freq_masks": 2}
_SPEC_AUGMENT_KEYS = ("time_width", "time_masks", "freq_width", "freq_masks", "noise_stddev",
                      "mask_value")


def spectrogram_augmenter(spec_augment):
    """``spec_augment`` (a dict of ``augment_audio.spec_augment`` arguments, a
    ``(spectrogram, seed) -> spectrogram`` function, or None/{} for none) → a function or
    None."""
    if spec_augment is None or callable(spec_augment):
        return spec_augment
    if not isinstance(spec_augment, dict):
        raise TfbigError(f"spec_augment: expected a dict of {', '.join(_SPEC_AUGMENT_KEYS)}, a "
                         f"(spectrogram, seed) -> spectrogram function or None, got "
                         f"{type(spec_augment).__name__}")
    unknown = sorted(set(spec_augment) - set(_SPEC_AUGMENT_KEYS))
    if unknown:
        raise TfbigError(f"spec_augment: unknown key(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(_SPEC_AUGMENT_KEYS)}")
    if not spec_augment:
        return None
    return lambda spectrogram, seed: apply_spec_augment(spectrogram, seed, **spec_augment)


def audio_dataset(paths, labels, *, sample_rate, duration, batch_size, shuffle=False, seed=0,
                  training=False, spec_augment=SPEC_AUGMENT,
                  num_mels=audio_features.NUM_MELS, window_ms=audio_features.WINDOW_MS,
                  hop_ms=audio_features.HOP_MS, per_mel_bin=False, shuffle_buffer=10000,
                  repeat=False, drop_remainder=False, cache=True):
    """Batches of ``(log-mel float32 [B, frames, num_mels], labels int32 [B])``.

    Every file's header is checked first, so a bad file fails here, naming it, not midway
    through an epoch.

    Args:
        paths, labels: as ``audio_files.list_audio`` returns them (WAV paths, int labels).
        sample_rate: the dataset's rate in Hz; 0 takes the first file's
            (``audio_files.resolve_sample_rate``). Other rates are resampled to it.
        duration: seconds every clip is cropped or zero-padded to (centred; with
            ``training`` at a random place). Gives ``audio_features.num_frames`` frames.
        batch_size: global batch size.
        shuffle: reshuffle every epoch, reproducibly from ``seed``.
        seed: seeds the shuffle, the crops and SpecAugment; ``None`` for a fresh random one.
        training: random crops and ``spec_augment`` on; off (centred crops, no masks) for
            evaluation and prediction.
        spec_augment: the SpecAugment policy used when ``training``: a dict of
            ``augment_audio.spec_augment`` arguments (default :data:`SPEC_AUGMENT`), any
            ``(spectrogram [frames, mels], seed) -> spectrogram`` function, or None.
        num_mels, window_ms, hop_ms: the log-mel features (``audio_features``).
        per_mel_bin: normalise each band over time instead of the whole clip
            (``audio_features.normalize_utterance``).
        shuffle_buffer, repeat, drop_remainder, cache: as in ``image_dataset`` (the cache
            holds the decoded waveforms).
    """
    seed, deterministic = resolve_seed(seed, shuffle)
    paths, labels = [str(p) for p in paths], [int(label) for label in labels]
    if not paths or len(paths) != len(labels):
        raise TfbigError(f"got {len(paths)} audio paths and {len(labels)} labels; expected the "
                         "same, non-zero number of each")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration <= 0:
        raise TfbigError(f"duration={duration!r}: expected a number of seconds > 0")
    augment = spectrogram_augmenter(spec_augment) if training else None
    infos = [wav_info(path) for path in paths]
    sample_rate = resolve_sample_rate(infos, sample_rate)
    num_samples = round(duration * sample_rate)
    frames = audio_features.num_frames(num_samples, sample_rate, window_ms, hop_ms)

    def load(columns, label):
        return load_wav(**columns, sample_rate=sample_rate), label

    def features(position, keyed):
        index, (audio, label) = keyed
        crop_seed = augment_seed = None
        if training:
            crop_seed, augment_seed = tf.unstack(tf.random.experimental.stateless_split(
                example_seed(seed, AUGMENT, index, position), num=2))
        audio = audio_features.fit_duration(audio, num_samples, crop_seed)
        log_mel = audio_features.log_mel_spectrogram(
            audio, sample_rate, num_mels=num_mels, window_ms=window_ms, hop_ms=hop_ms)
        log_mel = audio_features.normalize_utterance(log_mel, per_mel_bin=per_mel_bin)
        if augment is not None:
            log_mel = augment(log_mel, augment_seed)
        return tf.ensure_shape(log_mel, [frames, num_mels]), label

    dataset = tf.data.Dataset.from_tensor_slices(
        (wav_columns(infos), tf.constant(labels, tf.int32)))
    dataset = dataset.map(load, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    dataset = cache_dataset(dataset, cache)
    dataset = shuffle_keyed(dataset, shuffle=shuffle, seed=seed,
                            buffer_size=min(len(paths), shuffle_buffer), repeat=repeat)
    dataset = dataset.map(features, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    return finish(dataset.batch(batch_size, drop_remainder=drop_remainder))
