"""tfbig.data.wav_bytes: the in-graph WAV parser equals the Python-checked reader on every file
that reader accepts, and refuses what it refuses."""

import struct

import numpy as np
import pytest
import tensorflow as tf
from data.test_audio_files import SIGNAL, extensible_fmt, float_wav, fmt, pcm_wav, riff

from tfbig.data.audio_files import read_wav
from tfbig.data.wav_bytes import decode_wav_bytes

GRAPH = tf.function(decode_wav_bytes, autograph=False)  # as an exported model runs it

ODD_CHUNK = b"LIST" + struct.pack("<I", 5) + b"INFOx\0"  # 5 bytes + the RIFF pad byte
STEREO = np.stack([SIGNAL, -SIGNAL / 2], axis=1).reshape(-1)
FILES = {
    "pcm8": lambda: pcm_wav(SIGNAL, width=1),
    "pcm16": lambda: pcm_wav(SIGNAL),
    "pcm24": lambda: pcm_wav(SIGNAL, width=3),
    "pcm32": lambda: pcm_wav(SIGNAL, width=4),
    "float32": lambda: float_wav(SIGNAL),
    "float64": lambda: float_wav(SIGNAL, "<f8"),
    "stereo_16k": lambda: pcm_wav(STEREO, rate=16000, channels=2),
    "extensible": lambda: riff(extensible_fmt(1, 1, 8000, 2), pcm_wav(SIGNAL)[44:]),
    "odd_chunk": lambda: riff(fmt(1, 1, 8000, 2), pcm_wav(SIGNAL)[44:], ODD_CHUNK),
    "partial_frame": lambda: riff(fmt(1, 2, 8000, 2), pcm_wav(SIGNAL)[44:] + b"\1\2"),
}


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("rate", [8000, 11025])
def test_bytes_decode_as_the_file_reader_does(write, name, rate):
    content = FILES[name]()
    expected, _ = read_wav(write(f"{name}.wav", content), sample_rate=rate)
    np.testing.assert_array_equal(GRAPH(tf.constant(content), rate).numpy(), expected)


@pytest.mark.parametrize("content, message", [
    (b"", "not a WAV file"),
    (b"hello, this is not audio", "not a WAV file"),
    (b"RIFF\x04\0\0\0WAVE", "no fmt chunk"),
    (riff(fmt(1, 1, 8000, 2), b"")[:36], "no data chunk"),
    (pcm_wav(SIGNAL)[:-20], "truncated"),
    (riff(fmt(1, 1, 8000, 2), b""), "no audio samples"),
    (riff(fmt(7, 1, 8000, 1), b"\x7f" * 10), "unsupported WAV encoding"),
    (riff(fmt(1, 0, 8000, 2), b"\0" * 10), "damaged WAV header"),
])
def test_what_the_file_reader_refuses_fails_in_the_graph(content, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"WAV input: {message}"):
        GRAPH(tf.constant(content), 8000)
