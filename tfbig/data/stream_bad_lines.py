"""Bad lines in a long ``tf.data`` stream: counted, reported as ``file:line``, and past a limit
turned into one :class:`TfbigError` for the caller.

A stream's parsers (:mod:`tfbig.data.stream`, :mod:`tfbig.data.stream_csv`) tag every line
of a batch with a code, in TF ops: ``OK``, ``SKIP`` (blank, a CSV header, a line inside a
CSV record), ``BAD`` or ``FATAL``. :func:`drop_bad_lines` then runs one *sequential*
``map`` over the batches: a batch of good lines takes a ``tf.cond`` branch of pure TF ops,
and only a batch holding a bad line takes the other branch, a ``tf.py_function`` handed
those lines alone. It calls :class:`BadLineGuard`, which computes each reason in Python
(the exact wording of :mod:`tfbig.data.sources`), counts it, keeps the first reasons in a
:class:`~tfbig.data.sources.BadLineReport`, and past ``max_bad_lines`` raises. Being
sequential and after the interleave, the map sees bad lines in stream order: the first
reason kept is the first bad line the consumer would meet.

tf.data reports an exception raised inside a ``py_function`` as a ``tf.errors.OpError``
whose message embeds the Python one. :func:`iterate` (or :func:`stream_errors` around any
loop) turns it back into the guard's own :class:`TfbigError`, looked up by a token in that
message, so a Python loop sees one line, as it would from ``sources.read_pairs``.
``model.fit`` on the dataset sees the ``OpError``, whose message still holds that line.
A stream that stops does so at the batch holding the bad line: the good examples of that
batch before it are not delivered.

Example:
    report = BadLineReport()
    dataset = translation_stream(files, max_bad_lines=100, report=report)
    for source, target in iterate(dataset):
        ...
    print(report)  # skipped 3 bad lines; first: data/part-3.tsv:17: empty target field; …
"""

import contextlib
import itertools
import os
import re
import threading

import tensorflow as tf

from tfbig.data.sources import BadLineReport
from tfbig.errors import TfbigError

# Line codes, as int32 tensors in the stream.
OK = 0      # an example
SKIP = 1    # nothing to report: a blank line, a CSV header, a line inside a CSV record
BAD = 2     # a bad line: counted, and an error past max_bad_lines
FATAL = 3   # a problem that spoils the whole file (a CSV header without text/label): always

ITERATE_BATCH = 256  # elements fetched at once by iterate()
_TOKEN = re.compile(r"\[tfbig stream error (\d+)\]")
_PENDING = {}  # token -> TfbigError raised in a py_function, for iterate() to re-raise
_PENDING_KEPT = 64  # errors nobody iterated for (model.fit) are dropped past this many
_PENDING_LOCK = threading.Lock()
_TOKENS = itertools.count(1)


def check_max_bad_lines(max_bad_lines) -> None:
    """Fail early, in one line, on a ``max_bad_lines`` that is not ``None`` or an int >= 0."""
    if max_bad_lines is None:
        return
    if isinstance(max_bad_lines, bool) or not isinstance(max_bad_lines, int) \
            or max_bad_lines < 0:
        raise TfbigError(f"max_bad_lines={max_bad_lines!r}: expected a number of bad lines to "
                         f"skip, 0 or more (0: the first bad line is an error), or None to skip "
                         f"them all")


class BadLineGuard:
    """The Python side of a stream's bad lines: reason, count, report, limit.

    Called only for bad lines (from a ``tf.py_function``, a batch's bad lines at a time), in
    stream order. A line is counted once even when the stream is read again (another
    epoch): the guard remembers the ``file:line`` of each bad line it has seen.

    Args:
        reason: ``reason(code, raw, where, context) -> str``: the message for one bad line
            (``raw``: its bytes; ``where``: ``"file:line"``; ``context``: parser data such
            as a CSV header, bytes).
        max_bad_lines: how many bad lines to skip; the next one stops the stream. ``0``:
            the first bad line stops it with its own message (as ``sources`` raises it);
            ``None``: skip them all.
        report: a :class:`~tfbig.data.sources.BadLineReport` to fill with every bad line
            met, the one that stops the stream included (one is made if ``None``); read it
            after the loop.
    """

    def __init__(self, reason, max_bad_lines: int | None = 0,
                 report: BadLineReport | None = None):
        check_max_bad_lines(max_bad_lines)
        self.reason = reason
        self.max_bad_lines = max_bad_lines
        self.report = report if report is not None else BadLineReport()
        self.count = 0
        self.first = None
        self.stopped = None  # the TfbigError that stopped the stream, once it has
        self._seen = set()
        self._lock = threading.Lock()

    def __call__(self, codes, raws, files, numbers, contexts):
        """The ``py_function`` body, for the bad lines of one batch, in order: returns the
        number of lines it took, or raises when one stops the stream."""
        for code, raw, file, number, context in zip(codes.numpy(), raws.numpy(), files.numpy(),
                                                    numbers.numpy(), contexts.numpy()):
            self.bad_line(int(code), raw, f"{os.fsdecode(file)}:{int(number)}", context)
        return tf.constant(len(codes), tf.int32)

    def bad_line(self, code: int, raw: bytes, where: str, context: bytes) -> None:
        """Count one bad line (``where`` = ``"file:line"``); raise when it stops the stream."""
        message = self.reason(code, raw, where, context)
        if code == FATAL:
            raise _stop(TfbigError(message))
        with self._lock:
            if self.stopped is not None:
                # tf.data may read ahead past the line that stopped the stream: never count
                # those, and stop again with the same error if asked.
                raise _stop(self.stopped)
            if where not in self._seen:
                self._seen.add(where)
                self.count += 1
                self.first = self.first or message
                self.report.add(message)
            if self.max_bad_lines is not None and self.count > self.max_bad_lines:
                self.stopped = self._too_many(message)
                raise _stop(self.stopped)

    def _too_many(self, message: str) -> TfbigError:
        if self.max_bad_lines == 0:
            return TfbigError(message)  # sources' own message for its first bad line
        return TfbigError(f"{self.count} bad lines, more than max_bad_lines="
                          f"{self.max_bad_lines} allows; first: {self.first}; fix the data "
                          f"or raise max_bad_lines")


def _stop(error: TfbigError) -> Exception:
    """Park ``error`` for :func:`iterate`; the exception to raise inside the py_function."""
    with _PENDING_LOCK:
        token = next(_TOKENS)
        _PENDING[token] = error
        while len(_PENDING) > _PENDING_KEPT:
            del _PENDING[next(iter(_PENDING))]
    return TfbigError(f"{error} [tfbig stream error {token}]")


def drop_bad_lines(batches: tf.data.Dataset, guard: BadLineGuard) -> tf.data.Dataset:
    """Report the bad lines of a tagged stream to ``guard``; keep the examples only.

    Args:
        batches: batches of tagged lines ``(example, code, raw, file, number, context)``,
            each ``(batch,)``: ``example`` a tuple of strings, ``code`` int32
            (``OK``/``SKIP``/``BAD``/``FATAL``), ``raw`` the line's (or CSV record's) bytes,
            ``file`` string, ``number`` int64, ``context`` a string the reason may need.
        guard: the :class:`BadLineGuard` that counts them.

    Returns:
        A dataset of single examples (unbatched): one string for a one-field example,
        else the tuple.
    """
    def check(example, code, raw, file, number, context):
        bad = code >= BAD  # (batch,)

        def report():
            rows = [tf.boolean_mask(column, bad) for column in (code, raw, file, number, context)]
            return tf.py_function(guard, rows, tf.int32)

        # A batch of good lines takes the pure-TF branch; the py_function runs only for a
        # batch with a bad line, and is handed those lines only.
        reported = tf.cond(tf.reduce_any(bad), report, lambda: tf.constant(0))
        with tf.control_dependencies([reported]):  # no example passes an unreported line
            keep = tf.identity(code == OK)
        return tuple(tf.boolean_mask(field, keep) for field in example)

    # Sequential (no num_parallel_calls): the guard sees bad lines in stream order.
    examples = batches.map(check).unbatch()
    if len(batches.element_spec[0]) == 1:
        examples = examples.map(lambda text: text)
    return examples


def to_python(value):
    """A NumPy value of a stream as Python: ``bytes`` → ``str``, a 0-d array → a scalar."""
    value = value.decode("utf-8") if isinstance(value, bytes) else value
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value


@contextlib.contextmanager
def stream_errors():
    """Inside it, a stream stopped by a :class:`BadLineGuard` raises the guard's
    :class:`TfbigError` instead of tf.data's ``OpError`` (any other error is left alone).

    Example:
        with stream_errors():
            for batch in dataset.batch(1024):
                ...
    """
    try:
        yield
    except tf.errors.OpError as error:
        match = _TOKEN.search(error.message or "")
        with _PENDING_LOCK:
            parked = _PENDING.pop(int(match.group(1)), None) if match else None
        if parked is None:
            raise
        raise parked from None


def iterate(dataset: tf.data.Dataset):
    """Iterate a stream in Python: strings as ``str``, bad-line stops as :class:`TfbigError`.

    Elements come out as :mod:`tfbig.data.sources` yields them (``(source, target)`` tuples
    of ``str``, or a ``str``). Works on any dataset derived from a stream (filtered, split,
    mapped): the error travels inside tf.data's own and is unwrapped by
    :func:`stream_errors`. Elements of fixed shape are fetched in batches of
    :data:`ITERATE_BATCH`: a tensor per element costs far more than the element.

    Raises:
        TfbigError: the guard's one-line message, when a stream stopped on a bad line.
    """
    specs = tf.nest.flatten(dataset.element_spec)
    batched = all(isinstance(spec, tf.TensorSpec) and spec.shape.is_fully_defined()
                  for spec in specs)
    with stream_errors():
        if not batched:
            for element in dataset.as_numpy_iterator():
                yield tf.nest.map_structure(to_python, element)
            return
        for batch in dataset.batch(ITERATE_BATCH).as_numpy_iterator():
            for i in range(len(tf.nest.flatten(batch)[0])):
                yield tf.nest.map_structure(lambda column: to_python(column[i]), batch)
