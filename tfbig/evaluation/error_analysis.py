"""Error analysis: the examples a model gets most wrong.

Aggregate metrics say *how much* a model errs; reading its worst examples says *how*
(a mislabelled row, a rare word, a sentence longer than anything in training). Rank the
evaluation set by per-example loss and look at the top of the list.
"""

import numpy as np

from tfbig.errors import TfbigError


def worst_examples(losses, examples, n=10):
    """The ``n`` examples with the highest loss, highest first.

    A NaN loss ranks above every number (a diverging example is the first one to read);
    equal losses keep the examples' original order.

    Args:
        losses: 1-D per-example losses (e.g. a Keras loss built with ``reduction=None``).
        examples: the matching examples (strings, dicts, tuples...), same length.
        n: how many to return at most (all of them if there are fewer).

    Returns:
        ``[{"index": i, "loss": float, "example": examples[i]}, ...]``.

    Example:
        >>> worst_examples([0.1, 2.5, 0.7], ["a", "b", "c"], n=2)
        [{'index': 1, 'loss': 2.5, 'example': 'b'}, {'index': 2, 'loss': 0.7, 'example': 'c'}]
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1:
        raise TfbigError(f"losses has shape {losses.shape}; expected one loss per example (1-D)")
    if losses.size == 0:
        raise TfbigError("losses is empty; expected at least one example")
    examples = list(examples)
    if len(examples) != len(losses):
        raise TfbigError(
            f"{len(losses)} losses but {len(examples)} examples; "
            "expected one loss per example"
        )
    if n < 1:
        raise TfbigError(f"n={n}; expected at least 1")
    is_nan = np.isnan(losses)
    # np.lexsort sorts by its last key first: NaN first, then loss descending, then index.
    order = np.lexsort((np.arange(len(losses)), -np.where(is_nan, 0.0, losses), ~is_nan))
    return [{"index": int(i), "loss": float(losses[i]), "example": examples[i]} for i in order[:n]]
