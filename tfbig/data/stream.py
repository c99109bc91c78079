"""The examples of a corpus larger than memory, as a ``tf.data`` stream.

The streaming twins of the readers in :mod:`tfbig.data.sources`: the same formats, the same
examples, the same bad lines with the same messages, but a ``tf.data.Dataset`` over any
number of (``.gz``) shards instead of a Python generator over one file.

======================  ==========  ==========================================================
stream                  task        elements (string scalars)
======================  ==========  ==========================================================
``translation_stream``  translate   ``(source, target)`` from ``source<TAB>target`` lines
``labelled_stream``     classify    ``(text, label)`` from ``text<TAB>label`` lines, or from
                                    ``.csv`` files (:mod:`tfbig.data.stream_csv`)
``text_stream``         lm, mlm     ``text``: each non-blank line, stripped
``jsonl_stream``        any text    the named fields of each JSON object, one per line
                                    (:mod:`tfbig.data.jsonl`, :mod:`tfbig.data.stream_jsonl`)
======================  ==========  ==========================================================

Good lines are parsed by TF ops only (``tf.strings``; JSON by one ``numpy_function`` a
batch, see :mod:`tfbig.data.stream_jsonl`); a bad line goes to
:mod:`tfbig.data.stream_bad_lines`, which counts it and, past ``max_bad_lines``, stops the
stream with a :class:`TfbigError`. Iterate with
:func:`~tfbig.data.stream_bad_lines.iterate` to get that error (and ``str`` values) in
Python; hand the dataset to ``tf.data``/Keras as it is otherwise.

Shared arguments of the streams:

- ``files``: a list of files, or a path (file, folder of shards, glob) as
  :func:`~tfbig.data.stream_files.data_files` takes it.
- ``max_bad_lines``: bad lines to skip before the stream stops; ``0`` (the default, as
  ``sources`` without ``skip_bad_lines``): the first bad line is an error, with ``sources``'
  own message ``file:line: what was wrong``; ``None``: skip them all.
- ``report``: a :class:`~tfbig.data.sources.BadLineReport` counting the skipped lines.
- ``num_shards``, ``shard_index``, ``cycle_length``: as in :func:`line_dataset`.

What differs from ``sources``: a ``\\r`` inside a line is dropped by TensorFlow's line
reader (see :mod:`tfbig.data.stream_lines`); examples of several files come interleaved, in
blocks of :data:`BATCH_SIZE` lines (``cycle_length=1`` reads the files one after the
other); a stream that stops on a bad line delivers none of the good lines of its batch
before it (see :mod:`tfbig.data.stream_bad_lines`); a stream without any example is
empty, not an error (a caller that needs one checks); a ``.txt`` folder is listed by
``data_files`` (every file, not recursive), not as ``read_texts`` lists it.

Example:
    report = BadLineReport()
    pairs = translation_stream("data/part-*.tsv.gz", max_bad_lines=100, report=report)
    for source, target in iterate(pairs.take(3)):
        print(source, "→", target)
"""

import tensorflow as tf

# sources' own per-line checks: a bad line's message is the same by construction.
from tfbig.data.sources import BadLineReport, _check_label, _known_labels, _tab_fields
from tfbig.data.stream_bad_lines import BAD, OK, SKIP, BadLineGuard, drop_bad_lines
from tfbig.data.stream_csv import csv_examples, csv_reason
from tfbig.data.stream_files import base_name
from tfbig.data.stream_jsonl import jsonl_parser, jsonl_reason
from tfbig.data.stream_lines import (AUTOTUNE, as_files, decode_line, drop_bom, is_valid_utf8,
                                     line_dataset, strip)
from tfbig.errors import TfbigError

__all__ = ["line_dataset", "translation_stream", "labelled_stream", "text_stream",
           "jsonl_stream"]

BATCH_SIZE = 512  # lines parsed per op call
_PAIR = ("source", "target")
_LABELLED = ("text", "label")


def _tsv_parser(names: tuple[str, ...], labels):
    """``map`` function: a batch of lines → ``(fields, code, raw, file, number, context)``."""
    width = len(names)
    known = None if labels is None else tf.constant(labels[0], tf.string)

    def parse(lines, files, numbers):  # each (batch,)
        lines = drop_bom(lines, numbers)
        pieces = tf.strings.split(lines, "\t")  # ragged (batch, (fields))
        # (batch, width): the stripped fields, cut or padded with "" to the expected count.
        fields = strip(pieces.to_tensor(default_value="", shape=[None, width]))
        good = (pieces.row_lengths() == width) & tf.reduce_all(fields != "", axis=1)
        if known is not None:
            good &= tf.reduce_any(tf.equal(fields[:, -1:], known[tf.newaxis, :]), axis=1)
        blank = strip(lines) == ""
        code = tf.where(~is_valid_utf8(lines), BAD, tf.where(blank, SKIP, tf.where(good, OK, BAD)))
        example = tuple(fields[:, i] for i in range(width))
        return example, code, lines, files, numbers, tf.zeros_like(lines)

    return parse


def _tsv_reason(names: tuple[str, ...], labels):
    """Python, bad lines only: the reason, found by ``sources``' own checks (same wording)."""

    def reason(code, raw, where, context):
        text, problem = decode_line(raw, where)
        if problem:
            return problem
        problems = []
        fields = _tab_fields(text, names, where, problems.append)
        if fields is not None:
            _check_label(fields, labels, where, problems.append)
        assert problems, f"{where}: {text!r} was tagged bad but passes sources' checks"
        return problems[0]

    return reason


def _text_parser(lines, files, numbers):  # each (batch,)
    lines = drop_bom(lines, numbers)
    texts = strip(lines)
    code = tf.where(~is_valid_utf8(lines), BAD, tf.where(texts == "", SKIP, OK))
    return (texts,), code, lines, files, numbers, tf.zeros_like(lines)


def _text_reason(code, raw, where, context):
    _, problem = decode_line(raw, where)
    assert problem, f"{where}: {raw!r} was tagged bad but is valid UTF-8"
    return problem


def _stream(files, parse, reason, per_file=None, *, max_bad_lines, report, num_shards,
            shard_index, cycle_length):
    guard = BadLineGuard(reason, max_bad_lines, report)  # checks max_bad_lines first
    options = dict(num_shards=num_shards, shard_index=shard_index, cycle_length=cycle_length)
    # Whole batches through the string ops: one op call per line would cost more than
    # the work it does.
    batches = line_dataset(files, batch_size=BATCH_SIZE, per_file=per_file, **options)
    if parse is not None:
        batches = batches.map(parse, num_parallel_calls=AUTOTUNE, deterministic=True)
    return drop_bad_lines(batches, guard)


def translation_stream(files, *, max_bad_lines: int | None = 0,
                       report: BadLineReport | None = None, num_shards: int = 1,
                       shard_index: int = 0, cycle_length: int | None = None):
    """``(source, target)`` string pairs from ``source<TAB>target`` files (translate).

    Accepts exactly the lines :func:`~tfbig.data.sources.read_pairs` accepts: two
    tab-separated fields, stripped, neither empty; blank lines skipped.

    Example:
        pairs = translation_stream(data_files("data/dates.tsv"))
        pairs.element_spec  # (TensorSpec([], tf.string), TensorSpec([], tf.string))
    """
    return _stream(files, _tsv_parser(_PAIR, None), _tsv_reason(_PAIR, None),
                   max_bad_lines=max_bad_lines, report=report, num_shards=num_shards,
                   shard_index=shard_index, cycle_length=cycle_length)


def labelled_stream(files, *, labels=None, max_bad_lines: int | None = 0,
                    report: BadLineReport | None = None, num_shards: int = 1,
                    shard_index: int = 0, cycle_length: int | None = None):
    """``(text, label)`` string pairs from ``text<TAB>label`` files or ``.csv`` files (classify).

    Files whose name ends in ``.csv`` or ``.csv.gz`` (any case) are CSV, each with its own
    header row naming ``text`` and ``label``; the others are TSV; one stream is all one or
    all the other. Accepts exactly the lines :func:`~tfbig.data.sources.read_labelled`
    accepts.

    Args:
        labels: the known labels, or ``None`` to accept any; another label is a bad line.
    """
    files = as_files(files)
    labels = _known_labels(labels)
    csv_files = [base_name(file).endswith(".csv") for file in files]
    if any(csv_files) and not all(csv_files):
        first_csv, first_tsv = files[csv_files.index(True)], files[csv_files.index(False)]
        raise TfbigError(f"{first_csv} is CSV but {first_tsv} is not: expected the files of "
                         f"one stream to be all .csv or all text<TAB>label TSV")
    options = dict(max_bad_lines=max_bad_lines, report=report, num_shards=num_shards,
                   shard_index=shard_index, cycle_length=cycle_length)
    if all(csv_files):
        return _stream(files, None, csv_reason(labels), csv_examples(labels), **options)
    return _stream(files, _tsv_parser(_LABELLED, labels), _tsv_reason(_LABELLED, labels),
                   **options)


def text_stream(files, *, max_bad_lines: int | None = 0, report: BadLineReport | None = None,
                num_shards: int = 1, shard_index: int = 0, cycle_length: int | None = None):
    """Each non-blank line of ``files``, stripped, as a string (lm, mlm).

    The only bad line of plain text is one that is not valid UTF-8, as in
    :func:`~tfbig.data.sources.read_texts`.
    """
    return _stream(files, _text_parser, _text_reason, max_bad_lines=max_bad_lines,
                   report=report, num_shards=num_shards, shard_index=shard_index,
                   cycle_length=cycle_length)


def jsonl_stream(files, fields, *, labels=None, max_bad_lines: int | None = 0,
                 report: BadLineReport | None = None, num_shards: int = 1,
                 shard_index: int = 0, cycle_length: int | None = None):
    """The examples of JSON Lines files (any text task): a string, or a tuple of them.

    Accepts exactly the lines :func:`~tfbig.data.jsonl.read_jsonl` accepts, with its
    messages for the others.

    Args:
        fields: ``((key, kind), …)``: the JSON keys of an example's fields, each ``"text"``
            or ``"label"`` (a string or an integer), as in
            :func:`tfbig.data.jsonl.check_line`.
        labels: the known labels, or ``None`` to accept any; another label is a bad line.

    Example:
        pairs = jsonl_stream("data/part-*.jsonl.gz", (("source", "text"), ("target", "text")))
    """
    fields, labels = tuple(fields), _known_labels(labels)
    return _stream(files, jsonl_parser(fields, labels), jsonl_reason(fields, labels),
                   max_bad_lines=max_bad_lines, report=report, num_shards=num_shards,
                   shard_index=shard_index, cycle_length=cycle_length)
