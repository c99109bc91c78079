"""Train/validation/test splits and k-fold assignment inside a ``tf.data`` stream.

The same assignment as :mod:`tfbig.data.splits` (``split_name``, ``fold_index``), key by key:
a 64-bit BLAKE2b digest of ``salt \\0 purpose \\0 key``. So a corpus split while streaming
puts every example where ``split_examples`` would, and a model trained on a streamed split
is evaluated on the same held-out examples as one trained from memory.

TensorFlow has no BLAKE2b op (``tf.fingerprint`` and ``to_hash_bucket_*`` are other
hashes), so the digest is taken by ``hashlib`` in a ``tf.numpy_function``, once per batch:
``batch`` → keys → digests → mask → ``unbatch``. The numpy_function takes about a
microsecond per key (0.8 million keys/s on a busy 2-core machine; the whole filter
0.1-0.2 million, mostly ``unbatch``'s cost per element);
``tests/data/test_stream_hash_split.py`` prints both rates. The rest stays in TF ops.

Example:
    pairs = translation_stream("data/part-*.tsv.gz")
    train = split_filter(pairs, None, "train", validation=0.1, test=0.1)
    for fold in range(5):
        fold_train = fold_filter(train, None, 5, fold, part="train")
        fold_validation = fold_filter(train, None, 5, fold, part="validation")
"""

import hashlib

import numpy as np
import tensorflow as tf

from tfbig.data.splits import SPLITS, _check_folds, _check_fractions
from tfbig.errors import TfbigError

BATCH_SIZE = 1024  # keys hashed per numpy_function call
_PARTS = ("train", "validation")


def _digests(keys: np.ndarray, salt: str, purpose: str) -> np.ndarray:
    """uint64 BLAKE2b digests of a batch of UTF-8 keys, as ``splits._digest`` computes them.

    ``splits`` hashes ``f"{salt}\\0{purpose}\\0{key}".encode("utf-8")``; for a key read as
    UTF-8 bytes that is the prefix's bytes followed by the key's own, so no decoding is needed.
    """
    prefix = f"{salt}\x00{purpose}\x00".encode("utf-8", errors="surrogatepass")
    digests = b"".join(hashlib.blake2b(prefix + key, digest_size=8).digest() for key in keys)
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def split_ids(keys, *, validation: float = 0.1, test: float = 0.1, salt: str = "tfbig"):
    """The split of each key, as an index into ``SPLITS`` (0 train, 1 validation, 2 test).

    Args:
        keys: string ``(n,)``, UTF-8.

    Returns:
        int32 ``(n,)``: ``SPLITS.index(split_name(key, validation=…, test=…, salt=…))``.
    """
    _check_fractions(validation, test)

    def assign(keys):
        # u = digest / 2**64 in float64: uint64 → float64 rounds as Python's int / int does.
        u = _digests(keys, salt, "split").astype(np.float64) / 2.0**64
        return np.where(u < test, 2, np.where(u < test + validation, 1, 0)).astype(np.int32)

    ids = tf.numpy_function(assign, [keys], tf.int32, stateful=False)
    return tf.ensure_shape(ids, keys.shape)


def fold_ids(keys, folds: int, *, salt: str = "tfbig"):
    """The k-fold fold of each key, ``fold_index(key, folds, salt=salt)``: int32 ``(n,)``."""
    _check_folds(folds)

    def assign(keys):
        return (_digests(keys, salt, "fold") % np.uint64(folds)).astype(np.int32)

    ids = tf.numpy_function(assign, [keys], tf.int32, stateful=False)
    return tf.ensure_shape(ids, keys.shape)


def _first_field(*batch):
    """``splits.default_key`` in TF: the string itself, or the first field of a tuple."""
    return batch[0]


def _filter_by(dataset, key_fn, ids_of, wanted, batch_size: int):
    """Keep the elements whose id (``ids_of(keys)``, per batch) satisfies ``wanted(id)``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise TfbigError(f"batch_size={batch_size!r}: expected a number of keys, 1 or more")
    key_fn = key_fn or _first_field

    def keep(*batch):
        mask = wanted(ids_of(key_fn(*batch)))  # (batch,)
        element = batch[0] if len(batch) == 1 else batch
        return tf.nest.map_structure(lambda column: tf.boolean_mask(column, mask), element)

    # Whole batches through the key function, the hash and the mask: a tf.data stage per
    # element would cost far more than hashing it.
    return dataset.batch(batch_size).map(keep).unbatch()


def split_filter(dataset: tf.data.Dataset, key_fn, split: str, *, validation: float = 0.1,
                 test: float = 0.1, salt: str = "tfbig", batch_size: int = BATCH_SIZE):
    """The elements of ``dataset`` that ``split_examples`` would put in ``split``.

    Args:
        dataset: elements of fixed shape (string scalars, tuples of them, …).
        key_fn: a *batch* of elements → their string keys ``(batch,)``, in TF ops (called
            with the components, like ``Dataset.map``; element-wise ops such as
            ``tf.strings.lower`` work as they are); ``None``: the element if it is a string,
            else its first component (``splits.default_key``: the source, the text).
        split: ``"train"``, ``"validation"`` or ``"test"``.
        validation, test, salt: as in :func:`tfbig.data.splits.split_name`.
        batch_size: elements keyed, hashed and filtered at once; their order is kept.

    Example:
        validation = split_filter(pairs, None, "validation", validation=0.1, test=0.1)
    """
    if split not in SPLITS:
        raise TfbigError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
    _check_fractions(validation, test)
    index = SPLITS.index(split)
    ids_of = lambda keys: split_ids(keys, validation=validation, test=test, salt=salt)  # noqa: E731
    return _filter_by(dataset, key_fn, ids_of, lambda split_id: split_id == index, batch_size)


def fold_filter(dataset: tf.data.Dataset, key_fn, folds: int, fold: int, *,
                part: str = "validation", salt: str = "tfbig", batch_size: int = BATCH_SIZE):
    """One side of fold ``fold`` of k-fold cross-validation, as ``splits.kfold`` assigns it.

    ``part="validation"``: the elements whose key falls in fold ``fold``; ``part="train"``:
    all the others. ``key_fn``, ``salt``, ``batch_size``: as in :func:`split_filter`.
    Unlike ``kfold``, an empty fold is not detected (the stream is not counted first).
    """
    _check_folds(folds)
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
        raise TfbigError(f"fold={fold!r}: expected a fold from 0 to {folds - 1} (folds={folds})")
    if part not in _PARTS:
        raise TfbigError(f"part={part!r}: expected one of {', '.join(_PARTS)}")
    ids_of = lambda keys: fold_ids(keys, folds, salt=salt)  # noqa: E731
    if part == "validation":
        return _filter_by(dataset, key_fn, ids_of, lambda fold_id: fold_id == fold, batch_size)
    return _filter_by(dataset, key_fn, ids_of, lambda fold_id: fold_id != fold, batch_size)
