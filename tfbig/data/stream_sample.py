"""A bounded, seeded sample of a stream: the texts a vocabulary is learned from.

A tokenizer needs a few hundred thousand lines, not a corpus larger than memory.
:func:`sample_texts` reads the stream once and keeps a uniform sample of at most ``size``
elements by reservoir sampling (Vitter's algorithm R): after ``n`` elements, each of them is
in the sample with probability ``size / n``, and memory never holds more than ``size``.

Reference:
    Vitter, "Random sampling with a reservoir", ACM TOMS 11(1), 1985.
    https://doi.org/10.1145/3147.3165
"""

import sys

import numpy as np
import tensorflow as tf

from tfbig.data.stream_bad_lines import stream_errors, to_python
from tfbig.errors import TfbigError

BATCH_SIZE = 1024  # elements per NumPy step; fixed, so a seed always draws the same sample


def _check(size, seed, progress) -> None:
    for name, value, least in (("size", size, 1), ("seed", seed, 0), ("progress", progress, 0)):
        if value is None and name == "progress":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise TfbigError(f"{name}={value!r}: expected an integer of at least {least}")


def sample_texts(dataset: tf.data.Dataset, size: int, seed: int = 0, *,
                 progress: int | None = 1_000_000, stream=None) -> list:
    """A uniform random sample of at most ``size`` elements of ``dataset``, read once.

    Same ``dataset``, ``size`` and ``seed`` → the same sample. A dataset of at most
    ``size`` elements is returned whole, in order; otherwise the sample is in no particular
    order. Strings come back as ``str`` (tuples of them as tuples), as
    :func:`~tfbig.data.stream_bad_lines.iterate` gives them; a stream that stops on a bad
    line raises its :class:`TfbigError`.

    Args:
        dataset: a stream of string scalars (or of fixed-shape tuples).
        size: the most elements to keep, 1 or more.
        seed: the sampling seed, 0 or more.
        progress: print ``sample_texts: N lines read, M kept`` to stderr (or ``stream``)
            each time another ``progress`` elements have been read (checked every
            :data:`BATCH_SIZE` elements); ``None`` or 0 for silence.

    Example:
        texts = sample_texts(text_stream("corpus/part-*.txt.gz"), size=200_000, seed=0)
    """
    _check(size, seed, progress)
    stream = stream or sys.stderr
    random = np.random.default_rng(seed)
    sample, seen, reported = [], 0, 0
    with stream_errors():
        for batch in dataset.batch(BATCH_SIZE).as_numpy_iterator():
            count = len(tf.nest.flatten(batch)[0])
            fill = max(0, min(count, size - seen))  # the first `size` elements all go in
            for i in range(fill):
                sample.append(_element(batch, i))
            if fill < count:
                # Element number n (0-based) replaces slot j ~ U{0..n} when j < size.
                numbers = np.arange(seen + fill, seen + count)
                slots = random.integers(0, numbers + 1)
                for i in np.flatnonzero(slots < size):  # in order: a later one wins a slot
                    sample[slots[i]] = _element(batch, fill + i)
            seen += count
            if progress and seen // progress > reported:
                reported = seen // progress
                print(f"sample_texts: {seen:,} lines read, {len(sample):,} kept", file=stream,
                      flush=True)
    return sample


def _element(batch, i: int):
    return tf.nest.map_structure(lambda column: to_python(column[i]), batch)
