"""A WAV file's bytes → mono float32 samples, all in TensorFlow ops: what an exported audio
model runs on its inputs, where no Python reads a header.

    bytes → check "RIFF....WAVE" → walk the chunks (tf.while_loop) to the last ``fmt `` before
    ``data`` → format tag, channels, rate, bytes a sample → encoding index
    → ``audio_files.decode_samples`` (the training pipeline's decoder) → resample

The same files as :func:`tfbig.data.audio_files.wav_info` are accepted (integer PCM of 8, 16,
24 or 32 bits, float of 32 or 64, plain or ``WAVE_FORMAT_EXTENSIBLE`` headers, any other
chunks, odd sizes padded) and decode to the same samples (tested on each encoding). A file
that is refused there fails here too, as an ``InvalidArgumentError`` whose message says what
is wrong (the bytes have no file name to give). Why not ``tf.audio.decode_wav``: it reads
16-bit PCM only and refuses extensible headers and odd chunks (see ``audio_files``).
"""

import tensorflow as tf

from tfbig.data.audio_files import ENCODINGS, ENCODING_TAGS, decode_samples
from tfbig.data.audio_features import resample

# (format tag, bytes a sample) as one number, in ENCODINGS order: the index is the encoding.
_KEYS = [tag * 16 + width for name in ENCODINGS
         for (tag, width), known in ENCODING_TAGS.items() if known == name]
_EXTENSIBLE = 0xFFFE
_WAV = "a PCM WAV file: 8, 16, 24 or 32-bit integer or 32/64-bit float samples"


def _unsigned(data, position, size):
    """The little-endian unsigned integer of ``size`` bytes at ``position`` → int64 scalar."""
    digits = tf.cast(tf.io.decode_raw(tf.strings.substr(data, position, size), tf.uint8),
                     tf.int64)  # (size,)
    return tf.reduce_sum(digits * 256 ** tf.range(size, dtype=tf.int64))


def _checks(*conditions):
    """One op failing with the message of the first false ``(condition, message)``: each
    check runs after the one before, so the error is the first problem, as in ``wav_info``."""
    check = tf.no_op()
    for condition, message in conditions:
        with tf.control_dependencies([check]):
            check = tf.debugging.Assert(condition, [f"WAV input: {message}; expected {_WAV}"])
    return check


def _chunks(data, size):
    """``(fmt_at, fmt_size, data_at, data_size)``: where the last ``fmt `` chunk before the
    ``data`` chunk and that chunk start (their bodies) and their sizes; -1 where missing."""
    def searching(position, fmt_at, fmt_size, data_at, data_size):
        return (position + 8 <= size) & (data_at < 0)

    def step(position, fmt_at, fmt_size, data_at, data_size):
        name = tf.strings.substr(data, position, 4)
        chunk_size = _unsigned(data, position + 4, 4)
        is_fmt, is_data = tf.equal(name, "fmt "), tf.equal(name, "data")
        body = position + 8
        padded = body + chunk_size + chunk_size % 2  # chunks are padded to even sizes
        return (padded, tf.where(is_fmt, body, fmt_at), tf.where(is_fmt, chunk_size, fmt_size),
                tf.where(is_data, body, data_at), tf.where(is_data, chunk_size, data_size))

    start, missing = tf.constant(12, tf.int64), tf.constant(-1, tf.int64)
    _, fmt_at, fmt_size, data_at, data_size = tf.while_loop(
        searching, step, (start, missing, missing, missing, missing))
    return fmt_at, fmt_size, data_at, data_size


def decode_wav_bytes(data, sample_rate):
    """One WAV file's bytes (a scalar ``tf.string``) → mono float32 ``[samples]`` at
    ``sample_rate`` (resampled from the file's rate as ``audio_files.load_wav`` does).

    Example:
        >>> samples = decode_wav_bytes(tf.io.read_file("data/audio/kapi/kapi_000.wav"),
        ...                            8000)  # doctest: +SKIP
    """
    size = tf.cast(tf.strings.length(data), tf.int64)
    header = tf.strings.substr(data, 0, 12) + b"\0" * 12  # 12 bytes or more: safe to slice
    is_wav = (tf.equal(tf.strings.substr(header, 0, 4), "RIFF")
              & tf.equal(tf.strings.substr(header, 8, 4), "WAVE") & (size >= 12))
    with tf.control_dependencies([_checks((is_wav, "not a WAV file (no RIFF/WAVE header)"))]):
        fmt_at, fmt_size, data_at, data_size = _chunks(data, size)
    checks = _checks(
        (fmt_at >= 0, "no fmt chunk before the data chunk (truncated or damaged?)"),
        (data_at >= 0, "no data chunk (truncated or damaged?)"),
        ((fmt_size >= 16) & (fmt_at + fmt_size <= size), "damaged fmt chunk"),
        (data_at + data_size <= size, "truncated: the data chunk is longer than the file"))
    with tf.control_dependencies([checks]):
        tag = _unsigned(data, fmt_at, 2)
        channels = _unsigned(data, fmt_at + 2, 2)
        file_rate = _unsigned(data, fmt_at + 4, 4)
        block_align = _unsigned(data, fmt_at + 12, 2)
        extensible = tf.equal(tag, _EXTENSIBLE) & (fmt_size >= 26)
        # The extensible sub-format GUID starts with the real tag (read at fmt_at otherwise,
        # which always exists, and discarded).
        sub_tag = _unsigned(data, tf.where(extensible, fmt_at + 24, fmt_at), 2)
        tag = tf.where(extensible, sub_tag, tag)
    sound = (channels > 0) & (file_rate > 0) & (block_align > 0)
    width = block_align // tf.maximum(channels, 1)
    matches = tf.equal(tf.constant(_KEYS, tf.int64), tag * 16 + width)  # (encodings,)
    frame_bytes = tf.maximum(block_align, 1)
    frames = data_size // frame_bytes  # a partial last frame is dropped
    checks = _checks(
        (sound & tf.equal(block_align % tf.maximum(channels, 1), 0),
         "damaged WAV header (channels, rate or bytes a frame)"),
        (tf.reduce_any(matches), "unsupported WAV encoding (compressed, or an odd sample "
                                 "size)"),
        (frames > 0, "no audio samples (empty data chunk)"))
    with tf.control_dependencies([checks]):
        encoding = tf.argmax(tf.cast(matches, tf.int32), output_type=tf.int32)
        samples = tf.strings.substr(data, data_at, frames * frame_bytes)
        audio = decode_samples(samples, encoding, tf.cast(channels, tf.int32))
    return resample(audio, file_rate, sample_rate)
