"""Cleaning before the pipeline: length filters, exact de-duplication, text and numbers.

=======================  =====================================================  ==========
function                 does                                                   runs in
=======================  =====================================================  ==========
``filter_by_length``     drop examples whose text is too short or too long      Python
``deduplicate``          drop exact repeats, keeping the first                  Python
``clean_text``           ``normalize_text`` + delete invisible junk characters  TF graph
``fit_normalization``    an adapted ``keras.layers.Normalization`` (z-scores)   Keras
``rescale``              ``keras.layers.Rescaling``: pixels 0..255 → 0..1        Keras
=======================  =====================================================  ==========

The two list functions take any examples: strings, ``(text, label)`` / ``(source, target)``
tuples or dicts, and return ``(kept, CleanReport)``.

Example:
    pairs = list(read_pairs("data/dates.tsv"))
    pairs, report = deduplicate(pairs)                          # whole pairs
    pairs, report = filter_by_length(pairs, max_chars=200)      # the source (field 0)
    print(report)   # kept 7990 of 8000 (removed 10: 10 too long)
"""

import collections
import dataclasses

from tfbig.errors import TfbigError


@dataclasses.dataclass
class CleanReport:
    """How many examples a cleaning step kept and removed, and why."""

    kept: int = 0
    removed: int = 0
    reasons: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def __str__(self):
        total = self.kept + self.removed
        if not self.removed:
            return f"kept all {total}"
        why = ", ".join(f"{count} {reason}" for reason, count in sorted(self.reasons.items()))
        return f"kept {self.kept} of {total} (removed {self.removed}: {why})"


def _field_getter(field):
    """``None``: a ``str`` example itself, else its element 0; an int/str: that element or
    key; a callable: called on the example."""
    if callable(field):
        return field
    if field is None:
        return lambda example: example if isinstance(example, str) else example[0]
    return lambda example: example[field]


def filter_by_length(examples, min_chars=1, max_chars=None, *, field=None):
    """Keep the examples whose text has ``min_chars..max_chars`` characters (inclusive).

    Args:
        examples: an iterable of examples (see the module docstring).
        min_chars: fewest characters allowed, after stripping surrounding whitespace.
        max_chars: most characters allowed (``None``: no limit).
        field: which text to measure: ``None`` (the string itself, or element 0 of a tuple:
            the text of ``(text, label)``, the source of a pair), an index or key, or a
            function ``example -> str``.

    Returns:
        ``(kept, report)``: the kept examples in their order, and a ``CleanReport`` with
        reasons ``"too short"`` / ``"too long"``.
    """
    if max_chars is not None and max_chars < min_chars:
        raise TfbigError(f"max_chars={max_chars} is below min_chars={min_chars}; expected "
                         "min_chars <= max_chars")
    text_of = _field_getter(field)
    kept, report = [], CleanReport()
    for number, example in enumerate(examples):
        text = text_of(example)
        if not isinstance(text, str):
            raise TfbigError(f"example {number}: the field to measure is a "
                             f"{type(text).__name__}, expected str (set field=)")
        length = len(text.strip())
        reason = ("too short" if length < min_chars
                  else "too long" if max_chars is not None and length > max_chars else None)
        if reason:
            report.removed += 1
            report.reasons[reason] += 1
        else:
            report.kept += 1
            kept.append(example)
    return kept, report


def deduplicate(examples, *, key=None):
    """Drop exact duplicates, keeping the first occurrence and the order.

    Args:
        examples: an iterable of hashable examples (strings, tuples), or any examples with
            a ``key``.
        key: ``None`` (the whole example: a pair is a duplicate only if both sides repeat),
            or ``example -> hashable``, e.g. ``lambda pair: pair[0]`` for one target per
            source.

    Returns:
        ``(kept, report)``; ``report.reasons["duplicate"]`` counts the dropped copies.
    """
    key = key or (lambda example: example)
    seen, kept, report = set(), [], CleanReport()
    for example in examples:
        value = key(example)
        if value in seen:
            report.removed += 1
            report.reasons["duplicate"] += 1
        else:
            seen.add(value)
            report.kept += 1
            kept.append(example)
    return kept, report


# Control characters other than whitespace (NUL, ESC, DEL, C1 codes ...), the byte-order
# mark and zero-width space left in the middle of text, and U+FFFD (the trace of a failed
# decoding). Whitespace controls (tab, newline) become spaces in normalize_text instead;
# other format characters such as the zero-width joiner inside emoji are kept.
_INVISIBLE_JUNK = r"[^\P{Cc}\s]|[\x{FEFF}\x{200B}\x{FFFD}]"


def clean_text(strings, *, form="NFKC", lower_case=False, strip_accents=False):
    """``normalize_text`` after deleting invisible junk characters; graph ops only.

    Unlike ``normalize_text`` alone, a control character inside a word disappears instead of
    splitting it (``"ab\\x00c"`` → ``"abc"``, not ``"ab c"``). Runs eagerly, in
    ``tf.data.Dataset.map`` and in ``tf.function``.

    Args:
        strings: a string tensor of any shape (or a ``str`` / list / array).
        form, lower_case, strip_accents: see ``text_normalization.normalize_text``.

    Returns:
        A string tensor of the same shape.
    """
    import tensorflow as tf

    from tfbig.data.text_normalization import normalize_text

    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    strings = tf.strings.regex_replace(strings, _INVISIBLE_JUNK, "")
    return normalize_text(strings, form=form, lower_case=lower_case,
                          strip_accents=strip_accents)


def fit_normalization(data, *, axis=-1):
    """A ``keras.layers.Normalization`` adapted to ``data``: ``(x - mean) / std`` per feature.

    Args:
        data: a NumPy array / tensor ``[examples, ..., features]``, or a ``tf.data.Dataset``
            of such batches (features only, no labels).
        axis: the feature axis (``None``: one mean and variance for everything).

    Returns:
        The adapted layer: use it as a model's first layer (it is saved with the model) or
        map it over a dataset.
    """
    import keras

    layer = keras.layers.Normalization(axis=axis)
    layer.adapt(data)
    return layer


def rescale(images, scale=1.0 / 255, offset=0.0):
    """``images * scale + offset`` with ``keras.layers.Rescaling``: 0..255 → 0..1 by default,
    ``scale=1/127.5, offset=-1`` for -1..1. Works eagerly and inside ``tf.data``."""
    import keras

    return keras.layers.Rescaling(scale, offset)(images)
