"""Lines of many files as one ``tf.data`` stream, and the per-line rules every format shares.

:func:`line_dataset` is the bottom of every text stream: ``(line, file, line_number)``
elements read from shards in parallel, in a deterministic order, never holding a file.
The helpers below apply, as TF ops, the rules :mod:`tfbig.data.sources` applies to every
line before a format looks at it:

- a UTF-8 byte-order mark on a file's first line is dropped;
- a line that is not valid UTF-8 is a bad line (:func:`is_valid_utf8`);
- "whitespace" is Python's ``str.isspace`` (:data:`WHITESPACE`), for blank lines and
  stripping.

One rule cannot be kept: ``tf.data.TextLineDataset`` drops *every* ``\\r`` byte of a line,
not only the one of a ``\\r\\n`` ending, and the bytes are gone before any op sees them.
``sources`` strips only trailing ``\\r``. So a ``\\r`` inside a line is lost: a TSV field or
a text line ``"a\\rb"`` streams as ``"ab"`` (whether a line is accepted is the same, as
``\\r`` is whitespace, except for an invalid UTF-8 sequence that a ``\\r`` splits, such as
``b"\\xc3\\r\\xa9"``, which streams as a valid ``"é"``; and the column that names a bad
byte counts no ``\\r`` before it). CSV: see :mod:`tfbig.data.stream_csv`.
"""

import os

import tensorflow as tf

from tfbig.data.stream_files import compression_type, data_files
from tfbig.errors import TfbigError

AUTOTUNE = tf.data.AUTOTUNE
_BOM = b"\xef\xbb\xbf"

# Python's str.isspace() characters, which str.strip() removes (RE2's \s is ASCII only).
# tests/data/test_stream.py checks this list against Python's own.
WHITESPACE_CODE_POINTS = (
    0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
    *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
WHITESPACE = "[" + "".join(f"\\x{{{c:x}}}" for c in WHITESPACE_CODE_POINTS) + "]"
_STRIP = f"^{WHITESPACE}+|{WHITESPACE}+$"


def as_files(files) -> list[str]:
    """``files`` as a list of paths: a path (file, folder, glob) goes through ``data_files``."""
    if isinstance(files, (str, os.PathLike)):
        return data_files(files)
    files = [os.fspath(file) for file in files]
    if not files:
        raise TfbigError("files=[]: expected at least one data file "
                         "(tfbig.data.stream_files.data_files lists them)")
    return files


def _check_sharding(files: list[str], num_shards, shard_index) -> None:
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise TfbigError(f"num_shards={num_shards!r}: expected a number of shards, 1 or more")
    if (isinstance(shard_index, bool) or not isinstance(shard_index, int)
            or not 0 <= shard_index < num_shards):
        raise TfbigError(f"shard_index={shard_index!r}: expected a shard from 0 to "
                         f"{num_shards - 1} (num_shards={num_shards})")
    if num_shards > len(files):
        # A worker without a file would read nothing while the others train.
        raise TfbigError(f"{len(files)} files cannot be sharded {num_shards} ways: every "
                         f"shard needs at least one file; split the corpus into at least "
                         f"{num_shards} files")


def file_lines(file, compression, batch_size: int | None = None) -> tf.data.Dataset:
    """The lines of one file as ``(line, file, line_number)``, numbered from 1; with
    ``batch_size``, batches of them (three ``(batch,)`` tensors), built without any op per
    line."""
    lines = tf.data.TextLineDataset(file, compression_type=compression)
    if batch_size is None:
        return lines.enumerate(start=1).map(lambda number, line: (line, file, number))
    numbers = tf.data.Dataset.range(1, 2**62).batch(batch_size)
    return tf.data.Dataset.zip((lines.batch(batch_size), numbers)).map(
        lambda lines, numbers: (lines, tf.fill(tf.shape(lines), file), numbers[:tf.size(lines)]))


def line_dataset(files, *, num_shards: int = 1, shard_index: int = 0,
                 cycle_length: int | None = None, batch_size: int | None = None,
                 per_file=None) -> tf.data.Dataset:
    """Every line of ``files`` as ``(line, file, line_number)``: string, string, int64.

    ``files`` → ``shard`` (this worker's files) → a deterministic parallel ``interleave``
    of one ``TextLineDataset`` per file (``.gz`` files as GZIP). ``line`` has no line ending
    (and no ``\r`` at all: see the module docstring); ``file`` is the path as given;
    ``line_number`` counts from 1 in each file.

    Args:
        files: a list of files, or a path that :func:`~tfbig.data.stream_files.data_files`
            lists (file, folder of shards, glob).
        num_shards, shard_index: read only every ``num_shards``-th file, from
            ``shard_index`` (one shard per worker); each shard needs at least one file.
        cycle_length: files read at once (default: tf.data's, about the number of cores).
            The order of lines depends on it, never on timing.
        batch_size: give batches of up to this many lines of one file (each element three
            ``(batch,)`` tensors) instead of single lines: the fast way to parse lines, as
            string ops cost far more per call than per line.
        per_file: ``(lines, file) -> dataset`` applied to each file's lines (or batches)
            before they are interleaved, for state that must not cross files (a CSV
            header).

    Example:
        for line, file, number in line_dataset("corpus/part-*.txt.gz").take(3):
            print(file.numpy(), number.numpy(), line.numpy())
    """
    files = as_files(files)
    _check_sharding(files, num_shards, shard_index)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise TfbigError(f"batch_size={batch_size!r}: expected a number of lines, 1 or more")
    per_file = per_file or (lambda lines, file: lines)
    compressions = [compression_type(file) for file in files]
    names = tf.data.Dataset.from_tensor_slices((files, compressions))
    names = names.shard(num_shards, shard_index)

    def read(file, compression):
        return per_file(file_lines(file, compression, batch_size), file)

    return names.interleave(read, cycle_length=cycle_length, block_length=1,
                            num_parallel_calls=AUTOTUNE, deterministic=True)


def drop_bom(line, number):
    """``line`` without a leading UTF-8 byte-order mark if it is a file's first line
    (``number == 1``); element-wise on tensors of lines and their numbers."""
    has_bom = (number == 1) & (tf.strings.substr(line, 0, 3) == _BOM)
    start = tf.where(has_bom, 3, 0)  # a byte offset, so short lines never go out of range
    return tf.strings.substr(line, start, tf.strings.length(line))


def is_valid_utf8(lines):
    """Whether each of ``lines`` is valid UTF-8, as Python's strict decoder judges it.

    Transcoding with replacement changes exactly the invalid bytes (overlong forms,
    surrogates, code points past U+10FFFF, stray or missing continuation bytes), so a line
    is valid when it comes back unchanged. ASCII lines, the most common by far and valid by
    definition, skip the transcoding, by far the costliest op of a line's parse.
    """
    flat = tf.reshape(lines, [-1])
    ascii_only = tf.strings.regex_full_match(flat, "[\\x00-\\x7f]*")
    others = tf.where(~ascii_only)  # (n, 1) positions
    text = tf.gather_nd(flat, others)
    repaired = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace",
                                            replacement_char=0xFFFD)
    valid = tf.tensor_scatter_nd_update(ascii_only, others, tf.equal(repaired, text))
    return tf.reshape(valid, tf.shape(lines))


def strip(text):
    """``text`` without leading and trailing whitespace, as Python's ``str.strip()``."""
    return tf.strings.regex_replace(text, _STRIP, "")


def decode_line(raw: bytes, where: str):
    """``(text, None)`` for valid UTF-8, else ``(None, reason)`` in ``sources``' wording."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as error:
        column = len(raw[: error.start].decode("utf-8", errors="replace")) + 1
        return None, (f"{where}: not valid UTF-8 "
                      f"(byte 0x{raw[error.start]:02x} at column {column})")
