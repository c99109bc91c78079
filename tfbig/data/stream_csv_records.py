"""CSV records from a file's lines, a batch of lines at a time, in TF ops.

Python's csv reader, fed ``line + "\\n"`` one line at a time (as
:func:`tfbig.data.sources.read_labelled` feeds it), ends each line in one of two states:
*closed* (the record is complete) or *open* (a quoted field goes on to the next line). A
line's effect is a map ``{closed, open} → {closed, open}``, read off the line alone by two
regular expressions (``_OPEN``: open after the line if it starts a record; ``_CONTINUED``:
open after it if it starts inside a quoted field). So the state after every line of a batch
follows from the state before it with cumulative sums instead of a loop: the last line whose
map is constant sets it, and each "negating" line since flips it.

Lines with the same record number are joined with ``\\n``; a record open at the end of a
batch is carried to the next (``scan`` over batches); a line that is not valid UTF-8 is never
joined (``sources`` never feeds it to csv) and comes out as a ``BAD`` record of its own.

csv stops a field longer than ``csv.field_size_limit()`` characters with an error, and goes
on with the next line. A batch in which any record (or the one carried in) is longer than
that many *bytes* (so could hold such a field) takes an exact line-by-line loop instead,
which also bounds what an unclosed quote can hold.

Output, per line of the batch: ``(code, raw, text, start)``: ``OK`` where a record ends
(``raw`` the joined record, ``text`` = ``raw + "\\n"``, what csv is fed; ``start`` its first
line), ``BAD`` for a line that is not UTF-8 or a record that is too long, ``SKIP`` elsewhere.
"""

import csv

import tensorflow as tf

from tfbig.data.stream_bad_lines import BAD, OK, SKIP
from tfbig.data.stream_csv_fields import parse_record
from tfbig.data.stream_lines import drop_bom, is_valid_utf8

# A field: empty, unquoted (a first character other than " or ,), or quoted, where "" is a
# quote and characters after the closing quote are kept (csv's non-strict rule).
_UNQUOTED = r'[^",\n][^,\n]*'
_QUOTED = r'"(?:[^"]|"")*"(?:[^",\n][^,\n]*)?'
_FIELDS = rf'(?:(?:{_UNQUOTED}|{_QUOTED})?,)*'
_STILL_QUOTED = r'(?:[^"]|"")*'
# Fed `line + "\n"`, csv ends inside a quoted field: starting a record / inside a quoted field.
_OPEN = rf'{_FIELDS}"{_STILL_QUOTED}'
_CONTINUED = rf'{_STILL_QUOTED}(?:"(?:[^",\n][^,\n]*)?,{_FIELDS}"{_STILL_QUOTED})?'




def _tagged(lines, files, numbers):
    """Batch map: each line without its BOM, its validity, and its ``{closed, open}`` map."""
    lines = drop_bom(lines, numbers)
    fed = lines + "\n"
    return (lines, numbers, is_valid_utf8(lines), tf.zeros_like(lines, tf.bool),
            tf.strings.regex_full_match(fed, _OPEN), tf.strings.regex_full_match(fed, _CONTINUED))


def _padded_gather(values, indices, pad):
    """``values[indices]``, where an index equal to ``len(values)`` gives ``pad``."""
    return tf.gather(tf.concat([values, tf.reshape(pad, [1])], 0), indices)


def _fast(state, batch):
    """The records of a batch by cumulative sums, and their joined lengths (bytes)."""
    buffer, start, is_open = state
    lines, numbers, valid, eof, opens_fresh, opens_inside = batch
    joins = valid & ~eof  # the lines csv is fed
    # Each line's map, as the state after it when entering closed (g0) or open (g1). A line
    # csv never sees keeps the state; the end of the file closes a record left open.
    g0 = joins & opens_fresh
    g1 = tf.where(joins, opens_inside, ~eof)
    constant, flips = tf.equal(g0, g1), g0 & ~g1
    segment = tf.math.cumsum(tf.cast(constant, tf.int32))  # constant maps so far
    base = tf.gather(tf.concat([[is_open], tf.boolean_mask(g0, constant)], 0), segment)
    flip_count = tf.math.cumsum(tf.cast(flips, tf.int32))
    flips_then = tf.gather(tf.concat([[0], tf.boolean_mask(flip_count, constant)], 0), segment)
    after = base ^ ((flip_count - flips_then) % 2 == 1)  # (batch,): open after each line
    before = tf.concat([[is_open], after[:-1]], 0)

    # Record numbers; 0 continues the record carried in, if there is one.
    starts = joins & ~before
    record = tf.math.cumsum(tf.cast(starts, tf.int32)) - 1 + tf.cast(is_open, tf.int32)
    count = tf.reduce_sum(tf.cast(starts, tf.int32)) + tf.cast(is_open, tf.int32)
    joined_lines, joined_records = tf.boolean_mask(lines, joins), tf.boolean_mask(record, joins)
    joined = tf.strings.unsorted_segment_join(joined_lines, joined_records, count,
                                              separator="\n")
    first = tf.math.unsorted_segment_min(tf.boolean_mask(numbers, joins), joined_records, count)

    def with_carried():
        carried = tf.where(tf.reduce_any(joins & (record == 0)), buffer + "\n" + joined[0],
                           buffer)
        return tf.concat([[carried], joined[1:]], 0), tf.concat([[start], first[1:]], 0)

    joined, first = tf.cond(is_open, with_carried, lambda: (joined, first))

    # One output per line: a record where it ends (or where the file ends), a bad line.
    ends = (joins & ~after) | (eof & before)
    which = tf.clip_by_value(tf.where(eof, count - 1, record), 0, count)
    bad = ~valid & ~eof
    raw = tf.where(ends, _padded_gather(joined, which, ""), tf.where(bad, lines, ""))
    output = (tf.where(bad, BAD, tf.where(ends, OK, SKIP)), raw,
              tf.where(ends, raw + "\n", ""),
              tf.where(ends, _padded_gather(first, which, tf.constant(0, tf.int64)), numbers))
    still_open = after[-1]
    last = tf.maximum(count - 1, 0)
    new_state = (tf.where(still_open, _padded_gather(joined, last, ""), ""),
                 tf.where(still_open, _padded_gather(first, last, tf.zeros_like(start)),
                          tf.zeros_like(start)),
                 still_open)
    return tf.strings.length(joined), new_state, output


def _too_long(text, limit: int):
    """Whether csv stops on ``text`` with "field larger than field limit"."""
    def check():
        return tf.reduce_any(tf.strings.length(parse_record(text), unit="UTF8_CHAR") > limit)
    # A field of more than `limit` characters needs more than `limit` bytes.
    return tf.cond(tf.strings.length(text) > limit, check, lambda: tf.constant(False))


def _line_step(state, line, limit: int):
    """One line, exactly as csv takes it, field limit included: ``(state, output)``."""
    buffer, state_start, is_open = state
    line, number, valid, eof = line
    joined = tf.where(is_open, buffer + "\n" + line, line)
    start = tf.where(is_open, state_start, number)
    text = joined + "\n"
    too_long = _too_long(text, limit)
    opens = ~eof & valid & ~too_long & tf.strings.regex_full_match(text, _OPEN)
    skipped = ~eof & ~valid  # a line that is not UTF-8: reported alone, state kept
    new_state = (tf.where(skipped, buffer, tf.where(opens, joined, "")),
                 tf.where(skipped, state_start, tf.where(opens, start, tf.zeros_like(start))),
                 tf.where(skipped, is_open, opens))
    ends = tf.where(eof, is_open, valid & ~too_long & ~opens)
    code = tf.where(~eof & (~valid | too_long), BAD, tf.where(ends, OK, SKIP))
    raw = tf.where(eof, buffer, tf.where(skipped, line, joined))
    output = (code, tf.where(code == SKIP, "", raw),
              tf.where(ends, tf.where(eof, buffer, joined) + "\n", ""),
              tf.where(eof, state_start, tf.where(skipped, number, start)))
    return new_state, output


def _slow(state, batch, limit: int):
    """The records of a batch line by line (a ``while_loop``): for batches that might hold
    a field over csv's limit, where csv's error restarts the record on the next line."""
    lines, numbers, valid, eof, _, _ = batch
    size = tf.size(lines)
    outputs = tuple(tf.TensorArray(dtype, size=size)
                    for dtype in (tf.int32, tf.string, tf.string, tf.int64))

    def body(k, state, outputs):
        state, output = _line_step(state, (lines[k], numbers[k], valid[k], eof[k]), limit)
        return k + 1, state, tuple(array.write(k, value) for array, value in zip(outputs, output))

    _, state, outputs = tf.while_loop(lambda k, *_: k < size, body, (0, state, outputs))
    return state, tuple(array.stack() for array in outputs)


def csv_records(batches):
    """One file's batches of lines ``(lines, files, numbers)`` → batches of
    ``(code, raw, text, start)``, one per line (see the module docstring)."""
    limit = csv.field_size_limit()  # read once, as csv reads it at each field
    tagged = batches.map(_tagged)
    end = ([b""], tf.constant([0], tf.int64), [True], [True], [False], [False])
    tagged = tagged.concatenate(tf.data.Dataset.from_tensors(end))  # hands over an open record

    def step(state, batch):
        lengths, new_state, output = _fast(state, batch)
        # `+ 1`: the "\n" csv is fed after each line is part of an open field.
        return tf.cond(tf.reduce_any(lengths + 1 > limit), lambda: _slow(state, batch, limit),
                       lambda: (new_state, output))

    initial = (tf.constant(b""), tf.constant(0, tf.int64), tf.constant(False))
    return tagged.scan(initial, step)
