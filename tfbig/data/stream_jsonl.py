"""JSON Lines files as a ``tf.data`` stream: the parser and bad-line reasons of
:func:`tfbig.data.stream.jsonl_stream`.

JSON has no TensorFlow op: ``tf.io.decode_json_example`` reads only the JSON form of a
``tf.train.Example``, and JSON's escapes, nesting and numbers are beyond regular expressions.
So each *batch* of lines (``tfbig.data.stream.BATCH_SIZE``) goes through one
``tf.numpy_function`` that runs ``json.loads`` on its lines (a few microseconds a line, far
below tokenising it) and :func:`tfbig.data.jsonl.check_line`, the in-memory reader's own
check: the same examples and the same messages. Everything around it — reading, gzip,
interleaving shards, counting and reporting bad lines — is the other formats' tf.data path.
"""

import numpy as np
import tensorflow as tf

from tfbig.data.jsonl import check_line
from tfbig.data.stream_bad_lines import BAD, OK, SKIP
from tfbig.data.stream_lines import decode_line, drop_bom


def jsonl_parser(fields, labels):
    """``map`` function: a batch of lines → ``(fields, code, raw, file, number, context)``.

    Args:
        fields: ``((key, kind), …)`` as in :func:`tfbig.data.jsonl.check_line`.
        labels: ``(ordered list, set)`` of the known labels, or ``None``.
    """
    width = len(fields)

    def parse_batch(lines):  # NumPy: bytes (batch,) → codes, then one column per field
        codes = np.full(len(lines), OK, np.int32)
        columns = [np.full(len(lines), b"", object) for _ in range(width)]
        for row, raw in enumerate(lines):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                codes[row] = BAD
                continue
            if not text.strip():
                codes[row] = SKIP
                continue
            example, problem = check_line(text, fields, labels, "")
            if problem:
                codes[row] = BAD
                continue
            for column, value in zip(columns, example if width > 1 else (example,)):
                column[row] = value.encode("utf-8")
        return (codes, *columns)

    def parse(lines, files, numbers):  # each (batch,)
        lines = drop_bom(lines, numbers)
        code, *columns = tf.numpy_function(parse_batch, [lines], [tf.int32] + [tf.string] * width,
                                           stateful=False)
        code = tf.ensure_shape(code, lines.shape)
        example = tuple(tf.ensure_shape(column, lines.shape) for column in columns)
        return example, code, lines, files, numbers, tf.zeros_like(lines)

    return parse


def jsonl_reason(fields, labels):
    """Python, bad lines only: the reason, by the in-memory reader's own check."""

    def reason(code, raw, where, context):
        text, problem = decode_line(raw, where)
        if problem:
            return problem
        _, problem = check_line(text, fields, labels, where)
        assert problem, f"{where}: {text!r} was tagged bad but passes check_line"
        return problem

    return reason
