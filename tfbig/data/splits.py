"""Deterministic train/validation/test splits and k-fold assignment by a stable hash.

Each example goes where the hash of its *key* (the source text or the text to classify)
sends it, never where a shuffle happens to put it. So:

- the split is the same on every run, machine and Python process (``hashlib.blake2b``, not
  the per-process salted built-in ``hash``);
- exact duplicates share a key, hence a split: the same sentence cannot leak from training
  into validation or test;
- adding or removing examples never moves the others.

Example:
    splits = split_examples(pairs, validation=0.1, test=0.1)    # key: the source
    for train, validation in kfold(splits["train"], folds=5):
        ...
"""

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator

from tfbig.errors import TfbigError

SPLITS = ("train", "validation", "test")


def _digest(key: str, salt: str, purpose: str) -> int:
    """A 64-bit integer that depends only on ``key``, ``salt`` and ``purpose``."""
    if not isinstance(key, str):
        # repr() of other types is not stable across versions, so only text is hashed.
        raise TfbigError(f"split key must be a string, got {type(key).__name__}: {key!r:.60}")
    # The purpose keeps split and fold hashes independent: folds stay even inside "train".
    data = f"{salt}\x00{purpose}\x00{key}".encode("utf-8", errors="surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _check_fractions(validation: float, test: float) -> None:
    for name, value in (("validation", validation), ("test", test)):
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or math.isnan(value) or not 0 <= value < 1):
            raise TfbigError(f"{name}={value!r}: expected a fraction from 0 up to (not "
                             f"including) 1, such as 0.1")
    if validation + test >= 1:
        raise TfbigError(f"validation={validation} and test={test} add up to "
                         f"{validation + test:g}; expected a sum below 1 so that some examples "
                         f"are left for training")


def _check_folds(folds: int) -> None:
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise TfbigError(f"folds={folds!r}: expected an integer of at least 2 for k-fold "
                         f"cross-validation")


def split_name(key: str, *, validation: float = 0.1, test: float = 0.1,
               salt: str = "tfbig") -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for ``key``, by a stable hash.

    The hash maps ``key`` to a number ``u`` in ``[0, 1)``: ``u < test`` is test, then the next
    ``validation`` is validation, the rest train. Test comes first so that changing the
    validation fraction never moves an example into or out of the test set.

    Args:
        key: the text that identifies the example (duplicates share it).
        validation: fraction of keys for validation, ``0 <= validation < 1``.
        test: fraction of keys for test, ``0 <= test < 1``, and ``validation + test < 1``.
        salt: change it to draw a different, equally stable, split.

    Example:
        split_name("March 4, 2021")  # the same answer on every run
    """
    _check_fractions(validation, test)
    u = _digest(key, salt, "split") / 2**64
    if u < test:
        return "test"
    if u < test + validation:
        return "validation"
    return "train"


def fold_index(key: str, folds: int, *, salt: str = "tfbig") -> int:
    """The fold, ``0 <= fold < folds``, that ``key`` belongs to for k-fold cross-validation."""
    _check_folds(folds)
    return _digest(key, salt, "fold") % folds


def default_key(example) -> str:
    """The split key of an example: the string itself, or the first field of a tuple/list.

    For ``(source, target)`` and ``(text, label)`` that is the input text, so duplicated
    inputs stay together even with different targets.
    """
    if isinstance(example, str):
        return example
    if isinstance(example, (tuple, list)) and example and isinstance(example[0], str):
        return example[0]
    raise TfbigError(f"cannot take a split key from {type(example).__name__} {example!r:.60}; "
                     f"expected a string or a tuple whose first field is a string, or pass key=")


def split_examples(examples: Iterable, key: Callable | None = None, *,
                   validation: float = 0.1, test: float = 0.1,
                   salt: str = "tfbig") -> dict[str, list]:
    """Split ``examples`` into ``{"train": [...], "validation": [...], "test": [...]}``.

    Order within each split follows the input. ``key`` maps an example to its key string
    (default: :func:`default_key`).
    """
    _check_fractions(validation, test)
    key = key or default_key
    splits = {name: [] for name in SPLITS}
    for example in examples:
        name = split_name(key(example), validation=validation, test=test, salt=salt)
        splits[name].append(example)
    return splits


def kfold(examples: Iterable, folds: int, key: Callable | None = None, *,
          salt: str = "tfbig") -> Iterator[tuple[list, list]]:
    """Yield ``(train, validation)`` lists, one pair per fold.

    Every example is in exactly one fold's validation list and in the other folds' training
    lists; duplicates (same key) always share a fold. Checks run at the call, so a bad
    ``folds`` or too little data fails before any training starts.

    Example:
        scores = [fit_and_score(train, val) for train, val in kfold(pairs, folds=5)]
    """
    _check_folds(folds)
    key = key or default_key
    examples = list(examples)
    indices = [fold_index(key(example), folds, salt=salt) for example in examples]
    sizes = [indices.count(fold) for fold in range(folds)]
    if 0 in sizes:
        raise TfbigError(f"fold {sizes.index(0)} of {folds} has no validation examples: "
                         f"{len(examples)} examples are too few for {folds} folds (duplicates "
                         f"share a fold); use fewer folds or more data")
    return _folds(examples, indices, folds)


def _folds(examples: list, indices: list[int], folds: int):
    for fold in range(folds):
        train = [e for e, i in zip(examples, indices) if i != fold]
        validation = [e for e, i in zip(examples, indices) if i == fold]
        yield train, validation
