"""CSV files with ``text`` and ``label`` columns as a ``tf.data`` stream, in TF ops.

:func:`tfbig.data.sources.read_labelled` reads a ``.csv`` with Python's :mod:`csv` (the
``excel`` dialect). This module gives the same rows, bad rows and messages from TF ops, a
batch of lines at a time, in three steps per file (state never crosses files: each shard
has its own header):

1. **records** (:mod:`tfbig.data.stream_csv_records`): lines joined where a quoted field
   holds a line break; a line that is not UTF-8, or a field over ``csv.field_size_limit()``,
   is a bad record;
2. **fields** (:mod:`tfbig.data.stream_csv_fields`): each record cut at its ``,``;
3. **header** (``scan`` over batches, here): the first non-blank record names the columns
   (``text`` and ``label``, any case and order); a file whose first record does not is
   ``FATAL``, never skipped. Later records must have the header's field count and a
   non-empty text and label (and a known label, with ``labels``).

The reason of a bad record is computed in Python, only for bad records, by running csv on it
(:func:`csv_reason`), in ``sources``' wording. What cannot match: ``TextLineDataset``
drops every ``\\r`` (see :mod:`tfbig.data.stream_lines`), so a ``\\r`` inside a quoted
field is lost, and csv's error for one outside quotes ("new-line character seen in unquoted
field") never happens: such a row is read as if the ``\\r`` were not there.
"""

import csv

import tensorflow as tf

from tfbig.data.sources import unknown_label_message
from tfbig.data.stream_bad_lines import BAD, FATAL, OK, SKIP
from tfbig.data.stream_csv_fields import parse_records
from tfbig.data.stream_csv_records import csv_records
from tfbig.data.stream_lines import decode_line, strip


def _cells(fields, rows, columns, row_lengths):
    """``fields[row, column]`` stripped for each row, ``""`` where a row is too short."""
    flat = tf.concat([fields.flat_values, [""]], 0)
    inside = columns < row_lengths
    index = tf.where(inside, tf.cast(fields.row_starts(), tf.int32) + columns, tf.size(flat) - 1)
    return strip(tf.gather(flat, index))


def _header_step(labels):
    """The ``scan`` function over batches of records: read the header, check the rest."""
    known = None if labels is None else tf.constant(labels[0], tf.string)

    def step(state, batch):
        has_header, text_column, label_column, num_columns, header = state
        code, raw, text, start = batch
        fields = parse_records(tf.where(code == OK, text, ""))  # ragged (batch, (fields))
        lengths = tf.cast(fields.row_lengths(), tf.int32)
        # Blank: csv's [] or one whitespace field (every record has a first field).
        first = tf.gather(fields.flat_values, fields.row_starts())
        code = tf.where((code == OK) & (lengths <= 1) & (strip(first) == ""), SKIP, code)

        # The header: the first record left, if this file has none yet.
        reads = ~has_header & tf.reduce_any(code == OK)
        position = tf.where(reads, tf.argmax(tf.cast(code == OK, tf.int32),
                                             output_type=tf.int32), -1)
        names = tf.strings.lower(strip(fields[tf.maximum(position, 0)]))
        names_both = tf.reduce_any(names == "text") & tf.reduce_any(names == "label")
        state = (has_header | reads,
                 tf.where(reads, tf.argmax(tf.cast(names == "text", tf.int32),
                                           output_type=tf.int32), text_column),
                 tf.where(reads, tf.argmax(tf.cast(names == "label", tf.int32),
                                           output_type=tf.int32), label_column),
                 tf.where(reads, tf.size(names), num_columns),
                 tf.where(reads, raw[tf.maximum(position, 0)], header))
        _, text_column, label_column, num_columns, header = state

        rows = tf.range(tf.size(code))
        texts = _cells(fields, rows, text_column, lengths)
        labels_ = _cells(fields, rows, label_column, lengths)
        good = (lengths == num_columns) & (texts != "") & (labels_ != "")
        if known is not None:
            good &= tf.reduce_any(tf.equal(labels_[:, tf.newaxis], known[tf.newaxis, :]), 1)
        is_header = rows == position
        code = tf.where(code != OK, code,
                        tf.where(is_header, tf.where(names_both, SKIP, FATAL),
                                 tf.where(good, OK, BAD)))
        return state, ((texts, labels_), code, raw, start, tf.fill(tf.shape(raw), header))

    return step


def csv_examples(labels=None):
    """``per_file`` for :func:`~tfbig.data.stream_lines.line_dataset` with ``batch_size``:
    one CSV file's batches of lines → batches of
    ``((text, label), code, raw, file, start_line, header)`` for ``drop_bad_lines``.

    Args:
        labels: ``(ordered list, set)`` of the known labels, or ``None`` for any label.
    """
    def per_file(batches, file):
        initial = (tf.constant(False), tf.constant(0), tf.constant(0), tf.constant(0),
                   tf.constant(b""))
        checked = csv_records(batches).scan(initial, _header_step(labels))
        return checked.map(lambda example, code, raw, start, header:
                           (example, code, raw, tf.fill(tf.shape(raw), file), start, header))

    return per_file


def _csv_row(record: str):
    """csv's row for one record, fed as ``sources`` feeds it; ``csv.Error`` if it fails."""
    return next(csv.reader(line + "\n" for line in record.split("\n")))


def csv_reason(labels=None):
    """``reason(code, raw, where, header)`` for a CSV stream's bad records (Python, rare)."""

    def reason(code, raw, where, header):
        record, problem = decode_line(raw, where)
        if problem:
            return problem
        try:
            row = _csv_row(record)
        except csv.Error as error:
            return f"{where}: malformed CSV ({error})"
        cells = [cell.strip() for cell in row]
        if code == FATAL:
            return (f"{where}: expected a header row naming text and label columns, found: "
                    f"{', '.join(cells)}")
        header = [cell.strip() for cell in _csv_row(header.decode("utf-8"))]
        lowered = [cell.lower() for cell in header]
        if len(row) != len(header):
            return (f"{where}: expected {len(header)} comma-separated fields like the header "
                    f"({','.join(header)}), found {len(row)}")
        text, label = cells[lowered.index("text")], cells[lowered.index("label")]
        if not text or not label:
            return f"{where}: empty {'text' if not text else 'label'} field"
        assert labels is not None and label not in labels[1], f"{where}: {record!r} is good"
        return unknown_label_message(where, label, labels[0])

    return reason
