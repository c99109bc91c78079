"""The shipped audio sample (``data/audio/``): synthetic spoken words, one folder a word.

    python -m tfbig.data.samples --output data     (writes this sample with the others)

``kapi/``, ``nosa/``, ``sumo/``, ``tesha/``, ``wiyu/``: 60 clips each, 0.4-0.7 s, 8 kHz
16-bit mono PCM WAV. Each clip has its own random stream (``[seed, 4, word, index]``), so
the first clips are the same whatever the count. NumPy and the standard library (``wave``)
only: no TensorFlow.
"""

import wave
from pathlib import Path

import numpy as np

# Spoken words: a source-filter model of speech. Voiced sounds are a glottal pulse train at
# the speaker's pitch (its harmonics, falling 6 dB an octave) through three formant
# resonances whose frequencies glide from one sound's targets to the next; consonants are
# band-passed noise (a hiss for s/sh, a short burst after a silent closure for p/t/k). The
# word is the sequence of sounds; every speaker, rate, timing, level and noise is drawn per
# clip, independently of the word, and every word lasts the same on average.
WORDS = ("kapi", "nosa", "sumo", "tesha", "wiyu")
AUDIO_RATE = 8000  # Hz: telephone band, up to 4 kHz, holds F1-F3 and the s hiss
_SPELLING = {"kapi": "k a p i", "nosa": "n o s a", "sumo": "s u m o", "tesha": "t e sh a",
             "wiyu": "w i y u"}
# sound: (kind, formants F1-F3 in Hz or a noise band, amplitude, relative duration)
_SOUNDS = {
    "a": ("voiced", (750, 1250, 2500), 1.0, 0.095),
    "e": ("voiced", (480, 1900, 2550), 1.0, 0.095),
    "i": ("voiced", (300, 2250, 2900), 1.0, 0.095),
    "o": ("voiced", (480, 900, 2450), 1.0, 0.095),
    "u": ("voiced", (320, 800, 2300), 1.0, 0.095),
    "w": ("voiced", (300, 700, 2250), 0.5, 0.05),  # glides: weak, short vowels
    "y": ("voiced", (280, 2300, 3000), 0.5, 0.05),
    "m": ("voiced", (250, 1000, 2200), 0.3, 0.06),  # nasals: a weak low murmur
    "n": ("voiced", (250, 1500, 2500), 0.3, 0.06),
    "s": ("hiss", (2900, 3900), 0.3, 0.09),
    "sh": ("hiss", (1800, 2900), 0.35, 0.09),
    "p": ("burst", (300, 1500), 0.5, 0.06),
    "t": ("burst", (2500, 3900), 0.5, 0.06),
    "k": ("burst", (1200, 2300), 0.5, 0.06),
}
_WORD_SECONDS = 0.30  # every word's mean length; the speaking rate scales it by 0.8 to 1.2
_BANDWIDTHS = (80.0, 100.0, 150.0)  # of F1, F2, F3 in Hz


def _band_noise(length: int, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance white noise with only the ``low..high`` Hz band kept."""
    spectrum = np.fft.rfft(rng.normal(size=length))
    frequencies = np.fft.rfftfreq(length, 1 / AUDIO_RATE)
    noise = np.fft.irfft(spectrum * ((frequencies >= low) & (frequencies <= high)), length)
    return noise / (noise.std() + 1e-12)


def _resonance(frequency, formant, bandwidth):
    """Gain of a two-pole resonator at ``formant`` Hz (1 at 0 Hz) at ``frequency`` Hz."""
    half = bandwidth / 2
    return (formant**2 + half**2) / np.sqrt(((frequency - formant) ** 2 + half**2)
                                            * ((frequency + formant) ** 2 + half**2))


def spoken_word(word: str, rng: np.random.Generator) -> np.ndarray:
    """One utterance of ``word`` at ``AUDIO_RATE``, float64, voiced parts at RMS about 1.

    Drawn per call: pitch (80 to 250 Hz, log-uniform, falling 10 % over the word, with
    jitter), vocal-tract length (all formants x 0.9 to 1.12), formant targets (+-6 %),
    speaking rate (0.8 to 1.2 x ``_WORD_SECONDS``) and each sound's length (+-15 %).
    """
    sounds = _SPELLING[word].split()
    pitch = np.exp(rng.uniform(np.log(80), np.log(250)))
    tract = rng.uniform(0.9, 1.12)
    lengths = np.array([_SOUNDS[s][3] for s in sounds]) * rng.uniform(0.85, 1.15, len(sounds))
    lengths *= _WORD_SECONDS * rng.uniform(0.8, 1.2) / lengths.sum()
    edges = np.round(np.concatenate([[0], np.cumsum(lengths)]) * AUDIO_RATE).astype(int)
    size = edges[-1]
    voicing, noise = np.zeros(size), np.zeros(size)
    centres, targets = [], []  # formant targets at the middle of each voiced sound
    for sound, start, end in zip(sounds, edges[:-1], edges[1:]):
        kind, values, amplitude, _ = _SOUNDS[sound]
        if kind == "voiced":
            voicing[start:end] = amplitude
            centres.append((start + end) / 2)
            targets.append(np.array(values) * tract * rng.uniform(0.94, 1.06, 3))
        elif kind == "hiss":
            envelope = np.sqrt(np.hanning(end - start))
            noise[start:end] += amplitude * envelope * _band_noise(end - start, *values, rng)
        else:  # a burst: silence (the closure), then 15 ms of decaying noise
            burst = int(0.015 * AUDIO_RATE)
            envelope = np.exp(-np.arange(burst) / (0.004 * AUDIO_RATE))
            noise[end - burst:end] += amplitude * envelope * _band_noise(burst, *values, rng)
    ramp = np.hanning(int(0.02 * AUDIO_RATE))  # 20 ms onsets and offsets of voicing
    voicing = np.convolve(voicing, ramp / ramp.sum(), mode="same")
    samples = np.arange(size)
    formants = [np.interp(samples, centres, [t[i] for t in targets]) for i in range(3)]
    f0 = pitch * (1.05 - 0.1 * samples / size) * np.exp(np.cumsum(rng.normal(0, 0.002, size)))
    phase = 2 * np.pi * np.cumsum(f0) / AUDIO_RATE
    voiced = np.zeros(size)
    for k in range(1, int(AUDIO_RATE / 2 / f0.min()) + 1):  # harmonics below Nyquist
        gain = (k * f0 < AUDIO_RATE / 2 - 100) / k
        for formant, bandwidth in zip(formants, _BANDWIDTHS):
            gain = gain * _resonance(k * f0, formant, bandwidth)
        voiced += gain * np.sin(k * phase)
    voiced /= np.sqrt(np.mean(voiced[voicing > 0.5] ** 2))
    return voiced * voicing + noise


def word_clip(word: str, rng: np.random.Generator) -> np.ndarray:
    """A clip of ``word`` as int16 samples at ``AUDIO_RATE``: 0.4 to 0.7 s long (uniform),
    the word at a random onset, its RMS level -36 to -20 dBFS, white background noise 15 to
    35 dB below it. None of these depends on the word."""
    speech = spoken_word(word, rng)
    length = int(round(rng.uniform(0.4, 0.7) * AUDIO_RATE))
    margin = int(0.02 * AUDIO_RATE)
    onset = rng.integers(margin, length - len(speech) - margin + 1)
    level = 10 ** (rng.uniform(-36, -20) / 20)
    clip = np.zeros(length)
    clip[onset:onset + len(speech)] = speech * level / np.sqrt(np.mean(speech**2))
    clip += rng.normal(0, level * 10 ** (-rng.uniform(15, 35) / 20), length)
    return np.round(np.clip(clip, -1, 1) * 32767).astype(np.int16)  # peaks stay below 0.6


def word_samples(per_word: int, seed: int):
    """``(word, index, int16 samples)`` for ``per_word`` clips of each word, in file order.

    Each clip has its own random stream, ``[seed, 4, word, index]``: the first clips are the
    same whatever ``per_word`` is.
    """
    for number, word in enumerate(WORDS):
        for index in range(per_word):
            yield word, index, word_clip(word, np.random.default_rng([seed, 4, number, index]))


def write_wav(path: Path, samples: np.ndarray, rate: int = AUDIO_RATE) -> None:
    """Write int16 ``samples`` as a mono 16-bit PCM WAV file (a 44-byte header)."""
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(samples.astype("<i2").tobytes())


def write_word_clips(folder, *, per_word: int = 60, seed: int = 0) -> str:
    """Write ``folder/<word>/<word>_NNN.wav`` for ``per_word`` clips of each word; return a
    one-line summary."""
    folder, total = Path(folder), 0
    for word, index, samples in word_samples(per_word, seed):
        path = folder / word / f"{word}_{index:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, samples)
        total += path.stat().st_size
    return f"{folder}: {len(WORDS)} words x {per_word} WAVs, {total / 1024:.0f} KiB"
