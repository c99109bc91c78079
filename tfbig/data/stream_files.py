"""The files behind a ``--data`` path: one file, a folder of shards, or a glob.

A corpus larger than memory usually comes as shards (``part-00000.tsv.gz`` …). This module
only *lists* them, in a fixed order, and fails early, in one line, on a path that names no
data; reading them as a stream is :mod:`tfbig.data.stream`'s job.

=========================  ======================================================
path                       files
=========================  ======================================================
``data/dates.tsv``         ``["data/dates.tsv"]``
``data/shards/``           every regular file directly inside, sorted by name;
                           hidden files (``.name``) skipped; a sub-folder is an
                           error (image folders are not streamed)
``data/part-*.tsv.gz``     every file the glob matches, sorted (``**`` recurses)
=========================  ======================================================

A file whose name ends in ``.gz`` (any case) is read as GZIP (:func:`compression_type`).

Example:
    files = data_files("corpus/part-*.txt.gz")
    if is_small(files, threshold_bytes=100 * 2**20):
        ...  # the in-memory readers of tfbig.data.sources
"""

import glob
import os
import sys

from tfbig.errors import TfbigError

EXPECTED = "a data file, a folder of data files, or a glob such as data/part-*.tsv.gz"
_GLOB_CHARACTERS = "*?["


def data_files(path) -> list[str]:
    """The sorted list of data files that ``path`` names.

    Args:
        path: a file, a folder of shards, or a glob pattern (``str`` or ``os.PathLike``).
            A path that exists is taken literally, even if it holds ``*``, ``?`` or ``[``.

    Returns:
        File paths as strings, written the way ``path`` was (a folder's files are
        ``os.path.join(path, name)``), so error messages name them as the user would.

    Raises:
        TfbigError: one line naming ``path`` and what was expected: no such path, a glob
            that matches nothing or matches a folder, an empty folder, a folder holding
            sub-folders.
    """
    display = os.fspath(path)
    if os.path.isdir(display):
        return _folder_files(display)
    if os.path.exists(display):
        return [_regular_file(display)]
    if any(character in display for character in _GLOB_CHARACTERS):
        return _glob_files(display)
    raise TfbigError(f"{display}: no such file or folder (expected {EXPECTED})")


def _regular_file(display: str) -> str:
    if not os.path.isfile(display):  # a FIFO or a device: nothing TextLineDataset can shard
        raise TfbigError(f"{display}: not a regular file (expected {EXPECTED})")
    return display


def _folder_files(display: str) -> list[str]:
    files = []
    for entry in sorted(os.scandir(display), key=lambda entry: entry.name):
        if entry.name.startswith("."):
            continue  # .DS_Store, .ipynb_checkpoints, editors' swap files
        if entry.is_dir():
            # A shard folder is flat; a nested one is more likely the wrong folder (or an
            # image folder, which is not read line by line) than data to read silently.
            raise TfbigError(f"{display}: contains the sub-folder {entry.name}/; expected a "
                             f"folder of data files only (shards such as part-00000.tsv.gz)")
        files.append(_regular_file(os.path.join(display, entry.name)))
    if not files:
        raise TfbigError(f"{display}: no data files in this folder (hidden files are skipped; "
                         f"expected {EXPECTED})")
    return files


def _glob_files(pattern: str) -> list[str]:
    matches = sorted(glob.glob(pattern, recursive=True))
    if not matches:
        raise TfbigError(f"{pattern}: no files match this pattern (expected {EXPECTED})")
    for match in matches:
        if os.path.isdir(match):
            raise TfbigError(f"{pattern}: matches the folder {match}; expected a pattern that "
                             f"matches data files only, such as data/part-*.tsv.gz")
    return [_regular_file(match) for match in matches]


def is_gzip(file: str) -> bool:
    """Whether ``file`` is read as GZIP: its name ends in ``.gz`` (any case)."""
    return file.lower().endswith(".gz")


def compression_type(file: str) -> str:
    """``"GZIP"`` or ``""``: the ``compression_type`` of ``tf.data.TextLineDataset``."""
    return "GZIP" if is_gzip(file) else ""


def base_name(file: str) -> str:
    """The file's name without a ``.gz`` suffix, lower-cased: ``Part-1.CSV.gz`` → ``part-1.csv``.

    Formats are told apart by this name (``.csv`` is CSV), compressed or not.
    """
    name = os.path.basename(file).lower()
    return name[:-3] if name.endswith(".gz") else name


def total_bytes(files) -> int:
    """The bytes ``files`` take on disk (compressed size for ``.gz`` files)."""
    return sum(os.path.getsize(file) for file in files)


def is_small(files, threshold_bytes: int) -> bool:
    """Whether ``files`` can take the in-memory path of :mod:`tfbig.data.sources`.

    True when they hold at most ``threshold_bytes`` on disk and none is compressed: the list
    readers read plain files only, and a ``.gz`` file's size on disk says little about the
    memory its text takes.

    Example:
        is_small(data_files("data/dates.tsv"), threshold_bytes=100 * 2**20)  # True
    """
    if isinstance(threshold_bytes, bool) or not isinstance(threshold_bytes, int) \
            or threshold_bytes < 0:
        raise TfbigError(f"threshold_bytes={threshold_bytes!r}: expected a number of bytes, "
                         f"0 or more")
    files = list(files)
    return not any(is_gzip(file) for file in files) and total_bytes(files) <= threshold_bytes


_WARNED = set()  # the sharding warnings said in this process


def shard_by_file(num_files: int, num_pipelines: int, stream=None) -> bool:
    """Whether ``num_pipelines`` input pipelines (workers) read a corpus of ``num_files``
    files by file, each its own (``line_dataset``'s ``num_shards``): when every pipeline
    gets at least one file. Otherwise each reads every file and keeps every
    ``num_pipelines``-th example, which costs each worker the whole corpus's reading: say
    so, once per process, in one line on stderr (or ``stream``).

    Example:
        shard_by_file(8, 2)  # True: four files each
    """
    if num_pipelines <= 1 or num_files >= num_pipelines:
        return num_pipelines > 1
    message = (f"{num_files} files for {num_pipelines} workers: sharding by example, each "
               f"worker reads every file; write at least {num_pipelines} shards "
               f"(python -m tfbig.prepare does)")
    if message not in _WARNED:
        _WARNED.add(message)
        print(message, file=stream or sys.stderr, flush=True)
    return False
