"""Count the examples a length limit cuts, and say so once, with counts, on stderr.

Every text pipeline cuts token ids to a fixed length (``batching.to_fixed_length``,
``pipeline_translate.translation_ids``, ``batching.add_cls_sep``): a document longer
than ``data.max_source_length`` loses its end without a word, and a model trained on
halves of documents looks like a weak model. The tasks count the cut examples from token
lengths they already hold (``tfbig.data.token_lengths``: the corpus is never tokenised a
second time for this) and print one line per split or use:

    tfbig: 37 of 1,200 training sources (3.1%) are longer than data.max_source_length=256
    tokens and are cut (longest: 611); raise data.max_source_length (and model.max_length,
    now 512) to keep them

(one line on stderr; wrapped here). A streamed corpus is counted on the bounded sample it
reads for the vocabulary (``sample=True``: "… in a sample of 100,000 training sources …").
No TensorFlow.
"""

import dataclasses
import sys

import numpy as np


@dataclasses.dataclass(frozen=True)
class Truncation:
    """How many of ``total`` lengths exceed ``limit``, and the longest of all."""

    cut: int
    total: int
    longest: int
    limit: int

    @property
    def share(self):
        return self.cut / self.total if self.total else 0.0


def count_truncated(lengths, limit):
    """The :class:`Truncation` of ``lengths`` (token counts, the limit's own units:
    e.g. with ``[START]``/``[END]`` added where the limit counts them) against ``limit``."""
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    return Truncation(cut=int((lengths > limit).sum()), total=int(lengths.size),
                      longest=int(lengths.max()) if lengths.size else 0, limit=int(limit))


def truncation_message(counts, *, what, field, max_length=None, sample=False):
    """The one-line warning for ``counts`` (a :class:`Truncation`), or None when nothing is
    cut.

    Args:
        counts: from :func:`count_truncated`.
        what: the examples, plural, e.g. ``"training sources"``, ``"inputs"``.
        field: the config field that sets the limit, e.g. ``"data.max_source_length"``.
        max_length: ``model.max_length`` (the position table, which caps ``field``), to
            name in the hint; None where no such cap applies.
        sample: the lengths are a sample of a streamed corpus, not all of it.
    """
    if not counts.cut:
        return None
    of = f"in a sample of {counts.total:,}" if sample else f"of {counts.total:,}"
    cap = f" (and model.max_length, now {max_length})" if max_length else ""
    return (f"tfbig: {counts.cut:,} {of} {what} ({100 * counts.share:.1f}%) are longer than "
            f"{field}={counts.limit} tokens and are cut (longest: {counts.longest:,}); "
            f"raise {field}{cap} to keep them")


def warn_truncated(lengths, limit, *, what, field, max_length=None, sample=False,
                   file=None):
    """Count ``lengths`` against ``limit`` and print :func:`truncation_message` on
    ``file`` (default stderr) when any is cut. Returns the :class:`Truncation`."""
    counts = count_truncated(lengths, limit)
    message = truncation_message(counts, what=what, field=field, max_length=max_length,
                                 sample=sample)
    if message:
        print(message, file=file or sys.stderr, flush=True)
    return counts
