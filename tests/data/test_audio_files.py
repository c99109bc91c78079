"""tfbig.data.audio_files: list class folders of WAVs, check headers, decode every encoding."""

import io
import re
import struct
import subprocess
import sys
import wave

import numpy as np
import pytest
import tensorflow as tf

from tfbig.data import audio_files
from tfbig.data.audio_files import list_audio, read_wav, resolve_sample_rate, wav_info
from tfbig.errors import TfbigError

# A ramp through the whole range, both ends included: every encoding must map it to -1..1.
SIGNAL = np.linspace(-1.0, 1.0 - 2**-15, 64)


def pcm_wav(samples, *, rate=8000, width=2, channels=1) -> bytes:
    """Integer PCM written by Python's ``wave`` module: ``samples`` in -1..1 (frames ×
    channels interleaved), ``width`` bytes a sample (8-bit is unsigned, as WAV stores it)."""
    bits = 8 * width
    values = np.round(np.asarray(samples) * 2 ** (bits - 1)).astype(np.int64)
    values = np.clip(values, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if width == 1:
        data = (values + 128).astype(np.uint8).tobytes()
    else:
        data = b"".join(int(v).to_bytes(width, "little", signed=True) for v in values)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(width)
        file.setframerate(rate)
        file.writeframes(data)
    return buffer.getvalue()


def riff(fmt_body: bytes, data: bytes, before_data: bytes = b"") -> bytes:
    """A RIFF/WAVE file from a ``fmt `` chunk body, sample bytes and extra chunks."""
    def chunk(name, body):
        return name + struct.pack("<I", len(body)) + body + b"\0" * (len(body) % 2)

    body = b"WAVE" + chunk(b"fmt ", fmt_body) + before_data + chunk(b"data", data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt(tag, channels, rate, bytes_per_sample, bits=None) -> bytes:
    block = channels * bytes_per_sample
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block,
                       bits or 8 * bytes_per_sample)


def float_wav(samples, dtype="<f4", rate=8000) -> bytes:
    data = np.asarray(samples, dtype).tobytes()
    return riff(fmt(3, 1, rate, np.dtype(dtype).itemsize), data)


def extensible_fmt(sub_tag, channels, rate, bytes_per_sample) -> bytes:
    guid_rest = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return (fmt(0xFFFE, channels, rate, bytes_per_sample)
            + struct.pack("<HHI", 22, 8 * bytes_per_sample, 0) + struct.pack("<H", sub_tag)
            + guid_rest)


@pytest.mark.parametrize("name, content, tolerance", [
    ("pcm8", lambda: pcm_wav(SIGNAL, width=1), 2**-7),
    ("pcm16", lambda: pcm_wav(SIGNAL, width=2), 2**-15),
    ("pcm24", lambda: pcm_wav(SIGNAL, width=3), 2**-22),
    ("pcm32", lambda: pcm_wav(SIGNAL, width=4), 2**-23),
    ("float32", lambda: float_wav(SIGNAL), 0),
    ("float64", lambda: float_wav(SIGNAL, "<f8"), 0),
])
def test_every_encoding_decodes_to_minus_one_one(write, name, content, tolerance):
    path = write(f"{name}.wav", content())
    info = wav_info(path)
    assert (info.encoding, info.channels, info.sample_rate, info.frames) == (name, 1, 8000, 64)
    samples, rate = read_wav(path)
    assert rate == 8000 and samples.dtype == np.float32 and samples.shape == (64,)
    np.testing.assert_allclose(samples, SIGNAL, atol=tolerance + 1e-7)
    assert samples[0] == -1.0  # the most negative code is exactly -1


def test_16_bit_samples_equal_tf_audio_decode_wav(write):
    content = pcm_wav(np.random.default_rng(0).uniform(-1, 1, 2 * 300), channels=2)
    samples, _ = read_wav(write("stereo.wav", content))
    expected, rate = tf.audio.decode_wav(content)  # (300, 2)
    assert int(rate) == 8000
    np.testing.assert_array_equal(samples, tf.reduce_mean(expected, axis=1).numpy())


def test_channels_are_averaged_to_mono(write):
    left, right, centre = SIGNAL, -SIGNAL / 2, np.full(64, 0.25)
    stereo = np.stack([left, right], axis=1).ravel()  # interleaved frames
    samples, _ = read_wav(write("stereo.wav", pcm_wav(stereo, channels=2, width=3)))
    np.testing.assert_allclose(samples, (left + right) / 2, atol=1e-6)
    three = np.stack([left, right, centre], axis=1).ravel().astype("<f4").tobytes()
    samples, _ = read_wav(write("three.wav", riff(fmt(3, 3, 8000, 4), three)))
    np.testing.assert_allclose(samples, (left + right + centre) / 3, atol=1e-6)


def test_extensible_headers_and_odd_chunks_that_decode_wav_refuses(write):
    data = pcm_wav(SIGNAL)[44:]  # the 16-bit samples of a plain file
    odd_chunk = b"LIST" + struct.pack("<I", 5) + b"INFOx\0"  # 5 bytes + the RIFF pad byte
    for name, content in (("extensible.wav", riff(extensible_fmt(1, 1, 8000, 2), data)),
                          ("odd_chunk.wav", riff(fmt(1, 1, 8000, 2), data, odd_chunk))):
        with pytest.raises(tf.errors.InvalidArgumentError):
            tf.audio.decode_wav(content)
        samples, _ = read_wav(write(name, content))
        np.testing.assert_allclose(samples, SIGNAL, atol=2**-15, err_msg=name)
    float_ext = riff(extensible_fmt(3, 1, 8000, 4), SIGNAL.astype("<f4").tobytes())
    assert wav_info(write("float_ext.wav", float_ext)).encoding == "float32"


def test_another_rate_is_resampled_to_the_dataset_rate(write):
    # A 16 kHz file in an 8 kHz dataset: resampled (half the samples), the tone unchanged.
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    path = write("tone16k.wav", pcm_wav(tone, rate=16000))
    own, own_rate = read_wav(path)
    assert own_rate == 16000 and own.shape == (16000,)  # 0: the file's own rate
    samples, rate = read_wav(path, sample_rate=8000)
    assert rate == 8000 and samples.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) * 8000 / len(samples) == 440
    np.testing.assert_allclose(samples, tone[::2], atol=2e-3)


def test_mixed_encodings_in_tf_data_equal_eager_reads(write):
    paths = [write("a.wav", pcm_wav(SIGNAL, width=1, rate=16000)),
             write("b.wav", pcm_wav(SIGNAL, width=3)), write("c.wav", float_wav(SIGNAL))]
    infos = [wav_info(p) for p in paths]
    dataset = tf.data.Dataset.from_tensor_slices(audio_files.wav_columns(infos)).map(
        lambda columns: audio_files.load_wav(**columns, sample_rate=8000),
        num_parallel_calls=2, deterministic=True)
    for path, mapped in zip(paths, dataset):
        np.testing.assert_array_equal(mapped.numpy(), read_wav(path, 8000)[0])
    assert [len(x) for x in dataset] == [32, 64, 64]


@pytest.mark.parametrize("name, content, message", [
    ("empty.wav", b"", r"empty file \(expected a PCM WAV file"),
    ("text.wav", b"hello, this is not audio", r"not a WAV file \(no RIFF/WAVE header\)"),
    ("short.wav", b"RIFF", r"not a WAV file \(no RIFF/WAVE header\)"),
    ("header_only.wav", b"RIFF\x04\0\0\0WAVE", r"no 'fmt ' chunk \(truncated or damaged\?\)"),
    ("no_data.wav", riff(fmt(1, 1, 8000, 2), b"")[:36], r"no 'data' chunk"),
    ("truncated.wav", pcm_wav(SIGNAL)[:-20],
     r"truncated: the data chunk declares 128 bytes but the file holds 108"),
    ("silent.wav", riff(fmt(1, 1, 8000, 2), b""), r"no audio samples \(empty data chunk\)"),
    ("mulaw.wav", riff(fmt(7, 1, 8000, 1), b"\x7f" * 10),
     r"unsupported WAV encoding mu-law, 8-bit; expected a PCM WAV file: 8, 16, 24 or 32-bit "
     r"integer or 32/64-bit float samples \(convert it"),
    ("float16.wav", riff(fmt(3, 1, 8000, 2), b"\0" * 10), r"unsupported WAV encoding IEEE "
     r"float, 16-bit"),
    ("zero_channels.wav", riff(fmt(1, 0, 8000, 2), b"\0" * 10), r"damaged WAV header"),
])
def test_bad_files_fail_in_one_line_naming_the_file(write, name, content, message):
    path = write(name, content)
    with pytest.raises(TfbigError, match=re.escape(path) + ": " + message) as error:
        read_wav(path)
    assert "\n" not in str(error.value)


def test_missing_paths(tmp_path):
    for path, message in ((tmp_path / "absent.wav", "no such file"),
                          (tmp_path, "is a folder, not a file")):
        with pytest.raises(TfbigError, match=re.escape(f"{path}: {message} (expected a PCM WAV")):
            wav_info(path)


def test_list_audio(write, tmp_path):
    for name in ("yes/1.wav", "yes/2.WAV", "no/1.wav", "no/notes.txt", "no/.hidden.wav",
                 ".cache/x.wav"):
        write(f"words/{name}", pcm_wav(SIGNAL))
    paths, labels, class_names = list_audio(tmp_path / "words")
    assert class_names == ["no", "yes"] and labels == [0, 1, 1]
    assert [p.split("words/")[1] for p in paths] == ["no/1.wav", "yes/1.wav", "yes/2.WAV"]


def test_list_audio_errors(write, tmp_path):
    folder = tmp_path / "words"
    with pytest.raises(TfbigError, match=re.escape(f"{folder}: no such folder (expected a "
                                                   "folder of class_name/*.wav files)")):
        list_audio(folder)
    write("words/yes/1.wav", pcm_wav(SIGNAL))
    with pytest.raises(TfbigError, match=re.escape(f"{folder}: found 1 class folders (yes); "
                                                   "expected at least 2")):
        list_audio(folder)
    write("words/no/1.mp3", b"")
    with pytest.raises(TfbigError, match=re.escape(f"{folder / 'no'}: no .wav files")):
        list_audio(folder)
    with pytest.raises(TfbigError, match="is a file, not a folder"):
        list_audio(folder / "yes" / "1.wav")


def test_resolve_sample_rate(write):
    infos = [wav_info(write("a.wav", pcm_wav(SIGNAL, rate=22050))),
             wav_info(write("b.wav", pcm_wav(SIGNAL, rate=8000)))]
    assert resolve_sample_rate(infos, 0) == 22050  # the first file's
    assert resolve_sample_rate(infos, 16000) == 16000
    with pytest.raises(TfbigError, match=r"sample_rate=-1: expected an int in Hz, or 0"):
        resolve_sample_rate(infos, -1)
    with pytest.raises(TfbigError, match="sample_rate=0 takes the first file's rate, but there"):
        resolve_sample_rate([], 0)


def test_listing_and_header_checks_do_not_import_tensorflow():
    code = ("import sys, tfbig.data.audio_files; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "[]", run.stderr
