"""WAV files for the ``audio`` task: list a ``class_name/*.wav`` folder, check and decode files.

    wav_info(path)    the RIFF header, checked in Python: where the samples are, how encoded
    load_wav(...)     TF ops: read the file, decode the samples, downmix to mono, resample

Accepted: RIFF/WAVE files (plain or ``WAVE_FORMAT_EXTENSIBLE``) holding integer PCM of 8
(unsigned), 16, 24 or 32 bits, or IEEE float of 32 or 64 bits, any number of channels, any
sample rate, with any other chunks (``LIST``, ``fact``, odd sizes padded as RIFF says).
Refused with one line naming the file: an empty file, not a RIFF/WAVE file, a header or a
``data`` chunk cut short, no samples, compressed encodings (A-law, mu-law, ADPCM, MP3...).

Samples become float32 in -1..1 (integers divided by 2^(bits-1); 8-bit is offset by 128),
channels are averaged to mono, and a file at another sample rate than the dataset's is
resampled to the dataset's rate (``audio_features.resample``, band-limited), not refused.

Why not ``tf.audio.decode_wav``: it reads 16-bit PCM only, and refuses valid 16-bit files
too (``WAVE_FORMAT_EXTENSIBLE`` headers, odd-sized chunks before the samples). The header is
parsed here instead and the samples decoded with ``tf.io.decode_raw``, inside ``tf.data``;
on the plain 16-bit files ``decode_wav`` reads, both give identical samples (tested).
"""

import dataclasses
import os
import struct

from tfbig.data.class_folders import list_class_folders
from tfbig.errors import TfbigError

# TensorFlow is imported inside the functions that decode: listing a folder and checking
# headers (what the command line does before training) need only the standard library.

AUDIO_SUFFIX = ".wav"
# Sample encodings, in the order of load_wav's ``encoding`` index.
ENCODINGS = ("pcm8", "pcm16", "pcm24", "pcm32", "float32", "float64")
ENCODING_TAGS = {(1, 1): "pcm8", (1, 2): "pcm16", (1, 3): "pcm24", (1, 4): "pcm32",
                 (3, 4): "float32", (3, 8): "float64"}  # (format tag, bytes a sample) → name
_FORMAT_NAMES = {1: "PCM", 2: "MS ADPCM", 3: "IEEE float", 6: "A-law", 7: "mu-law",
                 0x11: "IMA ADPCM", 0x55: "MP3"}
_EXTENSIBLE = 0xFFFE
_WAV = "a PCM WAV file: 8, 16, 24 or 32-bit integer or 32/64-bit float samples"
_AUDIO_FOLDER = "a folder of class_name/*.wav files"


@dataclasses.dataclass(frozen=True)
class WavInfo:
    """What ``wav_info`` read from a WAV header."""

    path: str
    sample_rate: int  # frames a second
    channels: int
    encoding: str  # one of ENCODINGS
    frames: int  # samples per channel
    data_offset: int  # byte offset of the first sample in the file
    data_size: int  # bytes of whole frames: frames · channels · bytes a sample

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def _format(display: str, body: bytes) -> tuple[int, int, str]:
    """``(sample_rate, channels, encoding)`` from a ``fmt `` chunk's body."""
    tag, channels, sample_rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # the sub-format GUID starts with the tag
    if not channels or not sample_rate or not block_align or block_align % channels:
        raise TfbigError(f"{display}: damaged WAV header ({channels} channels, {sample_rate} Hz, "
                         f"{block_align} bytes a frame); expected {_WAV}")
    encoding = ENCODING_TAGS.get((tag, block_align // channels))
    if encoding is None:
        name = _FORMAT_NAMES.get(tag, f"format tag {tag:#06x}")
        raise TfbigError(f"{display}: unsupported WAV encoding {name}, {bits}-bit; expected "
                         f"{_WAV} (convert it, e.g. `sox in.wav -b 16 -e signed out.wav`)")
    return sample_rate, channels, encoding


def wav_info(path) -> WavInfo:
    """Read and check the header of one WAV file; :class:`TfbigError` names what is wrong.

    Walks the RIFF chunks to ``fmt `` and ``data`` (skipping others), reading a few bytes
    each: cheap enough to check every file of a dataset before training starts.
    """
    display = os.fspath(path)
    if not os.path.isfile(display):
        what = "is a folder, not a file" if os.path.isdir(display) else "no such file"
        raise TfbigError(f"{display}: {what} (expected {_WAV})")
    size = os.path.getsize(display)
    if size == 0:
        raise TfbigError(f"{display}: empty file (expected {_WAV})")
    with open(display, "rb") as file:
        header = file.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:] != b"WAVE":
            raise TfbigError(f"{display}: not a WAV file (no RIFF/WAVE header); expected {_WAV}")
        audio_format, position = None, 12
        while position + 8 <= size:
            file.seek(position)
            chunk_id, chunk_size = struct.unpack("<4sI", file.read(8))
            body = position + 8
            if chunk_id == b"fmt ":
                if chunk_size < 16 or body + chunk_size > size:
                    raise TfbigError(f"{display}: truncated or damaged 'fmt ' chunk "
                                     f"({chunk_size} bytes); expected {_WAV}")
                audio_format = _format(display, file.read(chunk_size))
            elif chunk_id == b"data":
                if audio_format is None:
                    raise TfbigError(f"{display}: the 'data' chunk comes before the 'fmt ' "
                                     f"chunk that describes it; expected {_WAV}")
                if body + chunk_size > size:
                    raise TfbigError(f"{display}: truncated: the data chunk declares "
                                     f"{chunk_size} bytes but the file holds {size - body}")
                sample_rate, channels, encoding = audio_format
                frame_bytes = channels * _sample_bytes(encoding)
                frames = chunk_size // frame_bytes  # a partial last frame is dropped
                if not frames:
                    raise TfbigError(f"{display}: no audio samples (empty data chunk)")
                return WavInfo(display, sample_rate, channels, encoding, frames, body,
                               frames * frame_bytes)
            position = body + chunk_size + chunk_size % 2  # chunks are padded to even sizes
    missing = "'fmt '" if audio_format is None else "'data'"
    raise TfbigError(f"{display}: no {missing} chunk (truncated or damaged?); expected {_WAV}")


def _sample_bytes(encoding: str) -> int:
    return {"pcm8": 1, "pcm16": 2, "pcm24": 3, "pcm32": 4, "float32": 4, "float64": 8}[encoding]


def list_audio(folder) -> tuple[list[str], list[int], list[str]]:
    """List a ``class_name/*.wav`` folder as ``(paths, labels, class_names)``.

    As ``sources.list_images``: ``class_names`` are the sub-folder names, sorted, and
    ``labels[i]`` indexes them; only ``.wav`` files (suffix in any case) directly inside a
    class folder count; hidden entries are ignored. Headers are not read here
    (:func:`wav_info` does that).

    Example:
        paths, labels, class_names = list_audio("data/audio")
    """
    return list_class_folders(folder, (AUDIO_SUFFIX,), expected=_AUDIO_FOLDER,
                              kind=".wav files", missing="no .wav files")


def resolve_sample_rate(infos, sample_rate: int = 0) -> int:
    """The dataset's rate: ``sample_rate``, or the first file's when it is 0 (config
    ``data.sample_rate``). Files at other rates are resampled to it when loaded."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 0:
        raise TfbigError(f"sample_rate={sample_rate!r}: expected an int in Hz, or 0 for the "
                         f"first file's rate")
    if sample_rate:
        return sample_rate
    if not infos:
        raise TfbigError("sample_rate=0 takes the first file's rate, but there are no files")
    return infos[0].sample_rate


def wav_columns(infos) -> dict:
    """The per-file arguments of :func:`load_wav` as lists, for ``from_tensor_slices``."""
    return {"path": [info.path for info in infos],
            "offset": [info.data_offset for info in infos],
            "size": [info.data_size for info in infos],
            "encoding": [ENCODINGS.index(info.encoding) for info in infos],
            "channels": [info.channels for info in infos],
            "file_rate": [info.sample_rate for info in infos]}


def decode_samples(data, encoding, channels):
    """The ``data`` chunk's bytes (whole frames) → mono float32 ``[frames]``.

    ``encoding`` indexes :data:`ENCODINGS` (a tensor inside ``tf.data``, where files of
    several encodings may mix); channels are averaged.
    """
    import tensorflow as tf

    def pcm24(data):
        triples = tf.reshape(tf.cast(tf.io.decode_raw(data, tf.uint8), tf.int32), [-1, 3])
        value = triples[:, 0] + triples[:, 1] * 256 + triples[:, 2] * 65536  # 0..2^24-1
        value = tf.where(value >= 2**23, value - 2**24, value)  # two's complement sign
        return tf.cast(value, tf.float32) / 2.0**23

    decoders = (  # little-endian bytes → float32 [frames · channels] in -1..1, ENCODINGS order
        lambda: tf.cast(tf.io.decode_raw(data, tf.uint8), tf.float32) / 128.0 - 1.0,
        lambda: tf.cast(tf.io.decode_raw(data, tf.int16), tf.float32) / 2.0**15,
        lambda: pcm24(data),
        lambda: tf.cast(tf.io.decode_raw(data, tf.int32), tf.float32) / 2.0**31,
        lambda: tf.io.decode_raw(data, tf.float32),
        lambda: tf.cast(tf.io.decode_raw(data, tf.float64), tf.float32),
    )
    samples = tf.switch_case(tf.cast(encoding, tf.int32), decoders)
    frames = tf.reshape(samples, [-1, channels])  # (frames, channels), interleaved in the file
    return tf.reduce_mean(frames, axis=1)


def load_wav(path, offset, size, encoding, channels, file_rate, *, sample_rate):
    """Read one checked WAV file → mono float32 ``[samples]`` at ``sample_rate``.

    The arguments besides ``sample_rate`` are a :func:`wav_columns` row (from
    :func:`wav_info`); inside ``tf.data`` each is a scalar tensor.
    """
    import tensorflow as tf

    from tfbig.data.audio_features import resample

    data = tf.strings.substr(tf.io.read_file(path), offset, size)
    return resample(decode_samples(data, encoding, channels), file_rate, sample_rate)


def read_wav(path, sample_rate: int = 0):
    """One WAV file → ``(samples, rate)``: mono float32 NumPy ``[samples]`` at ``sample_rate``
    (0: the file's own rate). For ``predict`` and notebooks; pipelines use :func:`load_wav`.

    Example:
        samples, rate = read_wav("data/audio/kapi/kapi_000.wav")
    """
    info = wav_info(path)
    rate = resolve_sample_rate([info], sample_rate)
    columns = {key: values[0] for key, values in wav_columns([info]).items()}
    return load_wav(**columns, sample_rate=rate).numpy(), rate
