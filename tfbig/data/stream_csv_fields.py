"""The fields of CSV records, as Python's csv reader (``excel`` dialect) splits them, in TF ops.

``,`` separates fields; a field that *starts* with ``"`` is quoted: it runs to the next
``"`` that is not doubled, may hold ``,`` and line breaks, and ``""`` in it is one ``"``;
characters after its closing quote are kept as they are (csv is not strict), and so is a
``"`` inside an unquoted field.

How, for a batch of records at once:

1. one RE2 pass brackets the inside of each quoted field with a byte that valid UTF-8
   never holds (``\\xfe``), so a quoted field's extent is settled by the regular
   expression, not by counting quotes;
2. the bytes of all records, flattened, are cut at each ``,`` outside brackets; the final
   ``\\n`` and the brackets are dropped, and so is the first ``"`` of each ``""`` inside
   them. A record holds an even number of brackets and of such quotes, so running sums
   over the whole batch tell inside from outside without a per-record reset.

Example:
    parse_records(tf.constant(['a,"b,c"\\n', 'x,"a ""b"" c"\\n'])).to_list()
    # [[b'a', b'b,c'], [b'x', b'a "b" c']]
"""

import tensorflow as tf

_MARK = b"\xfe"  # never in valid UTF-8
_QUOTED_FIELD = r'(^|,)"((?:[^"]|"")*)("|$)'  # a " that opens a field, to its closing "


def parse_records(texts):
    """The fields of each record: ragged string ``(records, (fields))``.

    Args:
        texts: string ``(records,)``: each record's lines joined by ``\\n``, plus a final
            ``\\n`` (what csv is fed). An empty string gives one empty field.
    """
    marked = tf.strings.regex_replace(texts, _QUOTED_FIELD, b"\\1" + _MARK + b"\\2" + _MARK)
    chars = tf.strings.bytes_split(marked)  # ragged (records, (bytes))
    rows = tf.cast(chars.value_rowids(), tf.int32)
    chars = chars.flat_values  # (all bytes,)

    def running(mask, exclusive=False):
        return tf.math.cumsum(tf.cast(mask, tf.int32), exclusive=exclusive)

    is_mark = chars == _MARK
    inside = (running(is_mark, exclusive=True) % 2 == 1) & ~is_mark
    delimiter = (chars == ",") & ~inside & ~is_mark
    line_end = (chars == "\n") & ~inside  # the final "\n"; any other is inside quotes
    quote = (chars == '"') & inside
    first_of_pair = quote & (running(quote) % 2 == 1)
    keep = ~(is_mark | delimiter | line_end | first_of_pair)
    # Field f of record r is number (delimiters in records before r) + r + f overall.
    field = running(delimiter, exclusive=True) + rows
    num_records = tf.size(texts)
    delimiters = tf.math.unsorted_segment_sum(tf.cast(delimiter, tf.int32), rows, num_records)
    num_fields = delimiters + 1  # (records,)
    fields = tf.strings.unsorted_segment_join(tf.boolean_mask(chars, keep),
                                              tf.boolean_mask(field, keep),
                                              tf.reduce_sum(num_fields))
    return tf.RaggedTensor.from_row_lengths(fields, num_fields)


def parse_record(text):
    """The fields of one record (``text``: a string scalar, as in :func:`parse_records`):
    string ``(fields,)``."""
    return parse_records(tf.reshape(text, [1]))[0]
