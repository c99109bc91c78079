"""Unicode text normalisation with TensorFlow ops, the first step of every tokenizer.

``normalize_text`` is built only from graph ops (``tf_text.normalize_utf8``,
``tf.strings.lower``, ``tf.strings.regex_replace``), so the same function runs eagerly,
inside ``tf.data.Dataset.map`` and inside a ``tf.function`` or an exported SavedModel.

The steps, in order:

1. Unicode normal form (``NFKC`` by default: ``"ﬁ"`` → ``"fi"``, full-width ``"Ａ"`` → ``"A"``).
2. Accent stripping, only if asked: decompose (NFD), delete the combining marks (``\\p{Mn}``),
   then recompose, so ``"café"`` → ``"cafe"`` while Hangul syllables (which NFD also
   splits into jamo) come back whole. Other nonspacing marks go too: Hebrew and Arabic
   vowel points, Devanagari vowel signs, the emoji variation selector U+FE0F.
3. Lower-casing, only if asked, with ``tf.strings.lower(encoding="utf-8")``.
4. Every run of whitespace or control characters becomes one space; the ends are stripped.

Two deliberate differences from the tensorflow-text BERT tokenizer:

- ``BertTokenizer(lower_case=True)`` also strips accents (``"für"`` → ``"fur"``); here
  ``lower_case`` only lower-cases, and ``strip_accents`` is a separate switch.
- We lower-case with ``tf.strings.lower`` rather than ``tf_text.case_fold_utf8``: case folding
  silently applies NFKC (overriding ``form``) and deletes default-ignorable characters such as
  the zero-width joiner and variation selectors, which breaks emoji like "👨‍👩‍👧" and "❤️".
  The price: ``"ß"`` stays ``"ß"`` (case folding would give ``"ss"``).
"""

import tensorflow as tf
import tensorflow_text as tf_text

from tfbig.errors import TfbigError

# Valid values of ``form``; ``None`` leaves the text in whatever form it came.
NORMALIZATION_FORMS = ("NFC", "NFKC", "NFD", "NFKD", None)

# Unicode "nonspacing marks": the accents that NFD splits off their base letter.
_COMBINING_MARKS = r"\p{Mn}"

# ASCII whitespace, Unicode separators (no-break space, line/paragraph separators, ...) and
# control characters (tabs, newlines, NEL, ...). Format characters (\p{Cf}, e.g. the
# zero-width joiner inside emoji) are kept.
_WHITESPACE_OR_CONTROL = r"[\s\p{Z}\p{Cc}]+"


def check_normalization_form(form):
    """Raise ``TfbigError`` unless ``form`` is one of ``NORMALIZATION_FORMS``."""
    if form not in NORMALIZATION_FORMS:
        raise TfbigError(
            f"unknown Unicode normalization form {form!r}; expected one of "
            f"{', '.join(repr(f) for f in NORMALIZATION_FORMS)}"
        )


def normalize_text(strings, *, form="NFKC", lower_case=False, strip_accents=False):
    """Normalise UTF-8 strings: Unicode form, optional accents/case, tidy whitespace.

    Args:
        strings: a string tensor of any shape, or anything ``tf.convert_to_tensor`` turns
            into one (a Python ``str``, a list of ``str``, a NumPy array).
        form: Unicode normal form, one of ``"NFC"``, ``"NFKC"`` (default), ``"NFD"``,
            ``"NFKD"``, or ``None`` to skip it.
        lower_case: lower-case the text. Accents are kept ("FÜR" → "für").
        strip_accents: remove combining accents ("für" → "fur").

    Returns:
        A string tensor of the same shape as ``strings``.

    Raises:
        TfbigError: ``form`` is not a valid normal form.

    Example:
        >>> normalize_text(["  Für\\tCAFÉ\\n"], lower_case=True).numpy()[0].decode()
        'für café'
        >>> normalize_text(["Für café"], strip_accents=True).numpy()[0].decode()
        'Fur cafe'
    """
    check_normalization_form(form)
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    if form is not None:
        strings = tf_text.normalize_utf8(strings, form)
    if strip_accents:
        strings = tf_text.normalize_utf8(strings, "NFD")
        strings = tf.strings.regex_replace(strings, _COMBINING_MARKS, "")
        # Recompose what NFD split apart that was not an accent (e.g. Hangul syllables).
        strings = tf_text.normalize_utf8(strings, form or "NFC")
    if lower_case:
        strings = tf.strings.lower(strings, encoding="utf-8")
    strings = tf.strings.regex_replace(strings, _WHITESPACE_OR_CONTROL, " ")
    return tf.strings.strip(strings)
