"""Streaming readers for the data files tfbig accepts (CONTRACT.md, "Data files").

=================  ==========  =============================================================
reader             task        file
=================  ==========  =============================================================
``read_pairs``     translate   TSV, one ``source<TAB>target`` pair per line
``read_labelled``  classify    TSV ``text<TAB>label``, or a ``.csv`` whose header names
                               ``text`` and ``label`` (any order, other columns ignored)
``read_texts``     lm, mlm     text file, one text per line; or a folder of ``*.txt`` files
``list_images``    image       folder of ``class_name/*.png|*.jpg|*.jpeg``
=================  ==========  =============================================================

The text readers are lazy: they check the path when called (so a missing file fails at once,
not at the first ``next``) and then yield one example per line, never holding the whole file.
Shared rules:

- UTF-8, with or without a byte-order mark; ``\\n`` or ``\\r\\n`` line endings.
- Blank (whitespace-only) lines are skipped silently, wherever they are.
- Fields are stripped of surrounding whitespace; an empty field is a bad line.
- A bad line raises :class:`TfbigError` as ``path:line: what was wrong``. With
  ``skip_bad_lines=True`` it is skipped instead and counted in ``report``, if one is given.
- A file that yields no example at all is an error, even when skipping bad lines.

Example:
    report = BadLineReport()
    pairs = list(read_pairs("data/dates.tsv", skip_bad_lines=True, report=report))
    if report.skipped:
        print(report)  # skipped 2 bad lines; first: data/dates.tsv:7: empty target field; ...
"""

import csv
import dataclasses
import os
from pathlib import Path

from tfbig.data.class_folders import list_class_folders
from tfbig.errors import TfbigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

_PAIRS = "a TSV of source<TAB>target lines"
_LABELLED = "a TSV of text<TAB>label lines, or a .csv with text and label columns"
_TEXTS = "a text file with one text per line, or a folder of .txt files"
_IMAGES = "a folder of class_name/*.png|*.jpg images"
_BOM = b"\xef\xbb\xbf"


@dataclasses.dataclass
class BadLineReport:
    """What a reader skipped with ``skip_bad_lines=True``: an exact count and the first reasons.

    Pass one to a reader as ``report=``. Readers are lazy, so it is filled as the examples are
    consumed: read it after the loop. One report may be shared by several readers.

    Args:
        max_reasons: how many reasons to keep; ``skipped`` always counts every bad line.

    Example:
        report = BadLineReport()
        texts = list(read_texts("corpus/", skip_bad_lines=True, report=report))
        print(report.skipped, report.reasons)
    """

    max_reasons: int = 5
    skipped: int = 0
    reasons: list[str] = dataclasses.field(default_factory=list)

    def add(self, reason: str) -> None:
        """Count one skipped line; keep its reason if fewer than ``max_reasons`` are kept."""
        self.skipped += 1
        if len(self.reasons) < self.max_reasons:
            self.reasons.append(reason)

    def __str__(self) -> str:
        if not self.skipped:
            return "no bad lines skipped"
        noun = "line" if self.skipped == 1 else "lines"
        return f"skipped {self.skipped} bad {noun}; first: " + "; ".join(self.reasons)


class _BadLines:
    """The one place the raise-or-skip policy lives; callers just report each bad line."""

    def __init__(self, skip: bool, report: BadLineReport | None):
        self.skip = skip
        self.report = report
        self.local = BadLineReport()  # this read alone, for the "contains no examples" message

    def __call__(self, reason: str) -> None:
        if not self.skip:
            raise TfbigError(reason)
        self.local.add(reason)
        if self.report is not None:
            self.report.add(reason)

    def no_examples(self, display: str) -> TfbigError:
        detail = f" ({self.local})" if self.local.skipped else ""
        return TfbigError(f"{display}: contains no examples{detail}")


def _check_file(path, expected: str) -> str:
    """Fail early on a path that is not a readable file; returns the path as users wrote it."""
    display = os.fspath(path)
    if not os.path.exists(display):
        raise TfbigError(f"{display}: no such file (expected {expected})")
    if os.path.isdir(display):
        raise TfbigError(f"{display}: is a folder, not a file (expected {expected})")
    return display


def _lines(path: str, bad: _BadLines):
    """Yield ``(line_number, text)`` for every line of ``path``, decoded as UTF-8.

    Reads bytes and decodes line by line so that bad UTF-8 is reported with its own line
    number (a text-mode file would fail somewhere inside a buffer) and the rest stays usable.
    """
    try:
        file = open(path, "rb")
    except OSError as error:
        raise TfbigError(f"{path}: cannot read ({error.strerror})") from None
    with file:
        for number, raw in enumerate(file, start=1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                column = len(raw[: error.start].decode("utf-8", errors="replace")) + 1
                bad(f"{path}:{number}: not valid UTF-8 "
                    f"(byte 0x{raw[error.start]:02x} at column {column})")


def _tab_fields(line: str, names: tuple[str, ...], where: str, bad: _BadLines):
    """Split one TSV line into stripped, non-empty fields; ``None`` (after ``bad``) if it can't."""
    fields = line.split("\t")
    if len(fields) != len(names):
        bad(f"{where}: expected {len(names)} tab-separated fields "
            f"({'<TAB>'.join(names)}), found {len(fields)}")
        return None
    fields = tuple(field.strip() for field in fields)
    for name, value in zip(names, fields):
        if not value:
            bad(f"{where}: empty {name} field")
            return None
    return fields


def unknown_label_message(where: str, label: str, known, split: str = "") -> str:
    """``where: label 'x' is not in the training labels (a, b, …); …``: one wording for the
    readers (``where`` = ``path:line``) and the split checks of ``tfbig.tasks.labels``
    (``split``: the split the example fell in, when that is why the label is unknown)."""
    known = list(known)
    shown = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
    fell = f", and this example falls in the {split} split" if split else ""
    return (f"{where}: label {label!r} is not in the training labels ({shown}){fell}; add "
            f"training examples of it or remove it")


def _check_label(fields, labels, where: str, bad: _BadLines):
    """``fields`` (text, label), or ``None`` (after ``bad``) when ``labels`` lacks the label."""
    if labels is not None and fields[1] not in labels[1]:
        bad(unknown_label_message(where, fields[1], labels[0]))
        return None
    return fields


def _known_labels(labels):
    """``(ordered list, set)`` of the known labels, or ``None`` when any label goes."""
    if labels is None:
        return None
    if isinstance(labels, str):
        raise TfbigError(f"labels={labels!r}: expected a list of label strings, not one string")
    labels = [str(label) for label in labels]
    return labels, set(labels)


def _tsv(display: str, names: tuple[str, ...], bad: _BadLines, labels=None,
         numbered: bool = False):
    found = False
    for number, line in _lines(display, bad):
        if not line.strip():
            continue
        where = f"{display}:{number}"
        fields = _tab_fields(line, names, where, bad)
        if fields is not None:
            fields = _check_label(fields, labels, where, bad)
        if fields is not None:
            found = True
            yield (number, fields) if numbered else fields
    if not found:
        raise bad.no_examples(display)


def read_pairs(path, *, skip_bad_lines: bool = False, report: BadLineReport | None = None):
    """Yield ``(source, target)`` string pairs from a ``source<TAB>target`` TSV (translate).

    A tab inside either field makes three fields: a column-count error, never a silent merge.

    Example:
        for source, target in read_pairs("data/dates.tsv"):
            ...
    """
    display = _check_file(path, _PAIRS)
    return _tsv(display, ("source", "target"), _BadLines(skip_bad_lines, report))


def read_labelled(path, *, skip_bad_lines: bool = False, report: BadLineReport | None = None,
                  labels=None):
    """Yield ``(text, label)`` strings from a ``text<TAB>label`` TSV or a ``.csv`` (classify).

    A file whose name ends in ``.csv`` (any case) is read with :mod:`csv`, so quoted commas and
    quoted line breaks work; its first non-blank row must name ``text`` and ``label`` columns
    (case-insensitive). Labels are returned as written: names or integers, mapped later.

    Args:
        labels: the known labels (e.g. a trained run's), or ``None`` to accept any. A line
            with another label is a bad line: ``path:line: label 'x' is not in the training
            labels (…)``, raised, or skipped and counted with ``skip_bad_lines``.
    """
    display = _check_file(path, _LABELLED)
    bad = _BadLines(skip_bad_lines, report)
    labels = _known_labels(labels)
    if display.lower().endswith(".csv"):
        return _csv(display, bad, labels)
    return _tsv(display, ("text", "label"), bad, labels)


def numbered_labelled(path):
    """Yield ``(line_number, (text, label))`` for each good example of a classify file.

    Bad lines are skipped silently: this is for naming the line of an example already read
    (``read_labelled`` reports bad lines), e.g. one whose label turned out to be unknown.
    """
    display = _check_file(path, _LABELLED)
    bad = _BadLines(True, None)
    if display.lower().endswith(".csv"):
        return _csv(display, bad, None, numbered=True)
    return _tsv(display, ("text", "label"), bad, None, numbered=True)


def _csv(display: str, bad: _BadLines, labels=None, numbered: bool = False):
    # A record may span lines (quoted line breaks): name it by the first line the csv reader
    # pulls for it, which feed() notes after each record resets it to None.
    record = {"start": None}

    def feed():
        for number, line in _lines(display, bad):
            if record["start"] is None:
                record["start"] = number
            yield line + "\n"

    rows = csv.reader(feed())
    header = columns = None
    found = False
    while True:
        record["start"] = None
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as error:
            bad(f"{display}:{record['start']}: malformed CSV ({error})")
            continue
        start = record["start"]
        if len(row) <= 1 and not "".join(row).strip():
            continue  # blank line
        if header is None:
            header = [cell.strip() for cell in row]
            lowered = [cell.lower() for cell in header]
            if "text" not in lowered or "label" not in lowered:
                # A header problem spoils every row, so it is never skipped.
                raise TfbigError(f"{display}:{start}: expected a header row naming text and "
                                 f"label columns, found: {', '.join(header)}")
            columns = lowered.index("text"), lowered.index("label")
            continue
        where = f"{display}:{start}"
        if len(row) != len(header):
            bad(f"{where}: expected {len(header)} comma-separated fields like the header "
                f"({','.join(header)}), found {len(row)}")
            continue
        text, label = row[columns[0]].strip(), row[columns[1]].strip()
        if not text or not label:
            bad(f"{where}: empty {'text' if not text else 'label'} field")
            continue
        if _check_label((text, label), labels, where, bad) is None:
            continue
        found = True
        yield (start, (text, label)) if numbered else (text, label)
    if not found:
        raise bad.no_examples(display)


def read_texts(path, *, skip_bad_lines: bool = False, report: BadLineReport | None = None):
    """Yield each non-blank line, stripped, from a text file or a folder of ``.txt`` files (lm).

    A folder is searched recursively; its ``.txt`` files (any case) are read in sorted order
    of their relative paths, so the example order does not depend on the file system.
    """
    display = os.fspath(path)
    if os.path.isdir(display):
        root = Path(display)
        files = sorted((p for p in root.rglob("*") if p.suffix.lower() == ".txt" and p.is_file()),
                       key=lambda p: p.relative_to(root).as_posix())
        if not files:
            raise TfbigError(f"{display}: no .txt files in this folder (expected {_TEXTS})")
        files = [os.fspath(p) for p in files]
    else:
        files = [_check_file(display, _TEXTS)]
    return _texts(display, files, _BadLines(skip_bad_lines, report))


def _texts(display: str, files: list[str], bad: _BadLines):
    found = False
    for file in files:
        for _, line in _lines(file, bad):
            line = line.strip()
            if line:
                found = True
                yield line
    if not found:
        raise bad.no_examples(display)


def list_images(folder) -> tuple[list[str], list[int], list[str]]:
    """List a ``class_name/*.png|*.jpg|*.jpeg`` folder as ``(paths, labels, class_names)``.

    ``class_names`` are the sub-folder names, sorted, and ``labels[i]`` indexes them. Only
    images directly inside a class folder count (suffix in any case); hidden entries such as
    ``.ipynb_checkpoints`` are ignored.

    Example:
        paths, labels, class_names = list_images("data/shapes")
    """
    return list_class_folders(folder, IMAGE_SUFFIXES, expected=_IMAGES,
                              kind=".png/.jpg images", missing="no .png/.jpg/.jpeg images")
