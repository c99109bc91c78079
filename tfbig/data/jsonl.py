"""JSON Lines data: one JSON object per line, its fields named by the config.

A ``.jsonl`` (or ``.jsonl.gz``) file holds one example per line, e.g.

    {"text": "a fine film", "label": "pos"}         classify (data.text_field, label_field)
    {"source": "1 May 2024", "target": "2024-05-01"}   translate (source_field, target_field)
    {"text": "Once upon a time …"}                  lm, mlm (data.text_field)

Other keys are ignored. A field's value must be a JSON string, stripped and not empty; a
label may also be an integer (``3`` reads as ``"3"``). The rules the other formats share
(``tfbig.data.sources``) hold too: UTF-8 with or without a byte-order mark, blank lines
skipped, and a bad line is ``path:line: what was wrong`` — not JSON, not an object, a
missing field, a field of the wrong type, an empty field, an unknown label — raised, or
skipped and counted with ``skip_bad_lines``.

:func:`check_line` is the one check of a line: the in-memory reader here and the stream
(``tfbig.data.stream_jsonl``) both call it, so their examples and messages are the same.

Example:
    fields = (("text", "text"), ("label", "label"))
    for text, label in read_jsonl("data/reviews.jsonl", fields):
        ...
"""

import gzip
import json

from tfbig.data.sources import (BadLineReport, _BadLines, _check_file, _known_labels,
                                unknown_label_message)
from tfbig.data.stream_files import base_name, is_gzip
from tfbig.errors import TfbigError

TEXT, LABEL = "text", "label"  # the kinds of field: a string, or a string or an integer
_EXPECTED = "a .jsonl file with one JSON object per line"
_BOM = b"\xef\xbb\xbf"
_JSON_TYPES = ((bool, "a boolean"), (str, "a string"), (int, "a number"), (float, "a number"),
               (list, "an array"), (dict, "an object"), (type(None), "null"))


def is_jsonl(path) -> bool:
    """Whether ``path`` is read as JSON Lines: its name ends in ``.jsonl`` or ``.jsonl.gz``
    (any case)."""
    return base_name(str(path)).endswith(".jsonl")


def _json_type(value) -> str:
    return next(name for kind, name in _JSON_TYPES if isinstance(value, kind))


def _wanted(fields) -> str:
    names = " and ".join(f'"{name}"' for name, _ in fields)
    return f"a JSON object with {names} field{'s' * (len(fields) > 1)}"


def check_line(text: str, fields, labels, where: str):
    """``(example, None)`` for a good line, else ``(None, reason)``.

    Args:
        text: the line, decoded, not blank.
        fields: ``((key, kind), …)``: the JSON keys of the example's fields in order, each
            of kind ``TEXT`` (a string) or ``LABEL`` (a string or an integer).
        labels: ``(ordered list, set)`` of the known labels, or ``None`` for any.
        where: ``path:line`` for the message.

    Returns:
        The example as the task takes it: a ``str`` for one field, else a tuple of them.
    """
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"{where}: not valid JSON ({error.msg} at column {error.colno})"
    if not isinstance(record, dict):
        return None, f"{where}: expected {_wanted(fields)}, found {_json_type(record)}"
    values = []
    for key, kind in fields:
        if key not in record:
            return None, f'{where}: no "{key}" field (expected {_wanted(fields)})'
        value = record[key]
        if kind == LABEL and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            expected = "a string or an integer" if kind == LABEL else "a string"
            return None, f'{where}: field "{key}" is {_json_type(value)}, expected {expected}'
        value = value.strip()
        if not value:
            return None, f'{where}: empty "{key}" field'
        if kind == LABEL and labels is not None and value not in labels[1]:
            return None, unknown_label_message(where, value, labels[0])
        values.append(value)
    return (values[0] if len(values) == 1 else tuple(values)), None


def _open(display: str):
    try:
        return gzip.open(display, "rb") if is_gzip(display) else open(display, "rb")
    except OSError as error:
        raise TfbigError(f"{display}: cannot read ({error.strerror})") from None


def read_jsonl(path, fields, *, skip_bad_lines: bool = False,
               report: BadLineReport | None = None, labels=None):
    """Yield the examples of a JSON Lines file (plain or ``.gz``), one per non-blank line.

    Args:
        path: the file.
        fields: ``((key, kind), …)`` as in :func:`check_line`.
        skip_bad_lines, report: as the readers of ``tfbig.data.sources``.
        labels: the known labels, or ``None`` to accept any (classify).
    """
    display = _check_file(path, _EXPECTED)
    return _read(display, tuple(fields), _BadLines(skip_bad_lines, report),
                 _known_labels(labels))


def numbered_jsonl(path, fields):
    """Yield ``(line_number, example)`` for each good line (bad lines skipped silently): for
    naming the line of an example already read, as ``sources.numbered_labelled``."""
    display = _check_file(path, _EXPECTED)
    return _read(display, tuple(fields), _BadLines(True, None), None, numbered=True)


def _read(display, fields, bad, labels, numbered=False):
    found = False
    with _open(display) as file:
        for number, raw in enumerate(file, start=1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            where = f"{display}:{number}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                column = len(raw[: error.start].decode("utf-8", errors="replace")) + 1
                bad(f"{where}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at column "
                    f"{column})")
                continue
            if not text.strip():
                continue
            example, problem = check_line(text, fields, labels, where)
            if problem:
                bad(problem)
                continue
            found = True
            yield (number, example) if numbered else example
    if not found:
        raise bad.no_examples(display)


def write_jsonl(path, examples, keys) -> None:
    """Write ``examples`` (strings, or tuples of them) as JSON Lines with these ``keys``."""
    with open(path, "w", encoding="utf-8", newline="\n") as file:
        for example in examples:
            values = example if isinstance(example, tuple) else (example,)
            file.write(json.dumps(dict(zip(keys, values)), ensure_ascii=False) + "\n")
