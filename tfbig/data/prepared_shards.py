"""TFRecord shards of tokenised examples: what ``python -m tfbig.prepare`` writes and a
prepared run reads back, for any text task.

An example is a tuple of int32 tensors described by the task's ``prepared_features``,
``((name, kind), …)``: kind ``"ids"`` is a vector of token ids (any length), ``"id"`` one
int (a class id). Each is stored as a ``tf.train.Example`` of int64 lists under those names.

Order: the writer deals example ``i`` to shard ``i mod len(files)``; the reader takes the
shards round-robin (``interleave``, one record of each in turn), which gives the examples
back in the order they were written — the raw corpus's — so a prepared run's shuffles and
batches are the raw run's.

Example:
    features = (("token_ids", "ids"), ("label", "id"))
    with ShardWriter(paths, features) as writer:
        for example in ids.as_numpy_iterator():
            writer.write(example)
    examples = read_shards(paths, writer.written, features)
"""

import tensorflow as tf

from tfbig.data.batching import AUTOTUNE
from tfbig.errors import TfbigError

KINDS = ("ids", "id")


def check_features(features) -> tuple:
    """``features`` as a tuple of ``(name, kind)``; an unknown kind is a :class:`TfbigError`."""
    features = tuple(tuple(feature) for feature in features)
    for name, kind in features:
        if kind not in KINDS:
            raise TfbigError(f"prepared feature {name!r} has kind {kind!r}: expected one of "
                             f"{', '.join(KINDS)}")
    if not features:
        raise TfbigError("prepared features=(): expected at least one (name, kind)")
    return features


class ShardWriter:
    """Writes examples (tuples of NumPy ints, one per feature) round-robin into ``paths``.

    A context manager: the files are closed on leaving it, whatever happened.
    """

    def __init__(self, paths, features):
        self.features = check_features(features)
        self.paths = list(paths)
        self.written = 0
        self._writers = []

    def __enter__(self):
        self._writers = [tf.io.TFRecordWriter(path) for path in self.paths]
        return self

    def __exit__(self, *exc_info):
        for writer in self._writers:
            writer.close()
        return False

    def write(self, example) -> None:
        values = example if isinstance(example, tuple) else (example,)
        feature = {name: tf.train.Feature(int64_list=tf.train.Int64List(
            value=value.tolist() if kind == "ids" else [int(value)]))
            for (name, kind), value in zip(self.features, values)}
        record = tf.train.Example(features=tf.train.Features(feature=feature))
        self._writers[self.written % len(self._writers)].write(record.SerializeToString())
        self.written += 1


def read_shards(files, count, features) -> tf.data.Dataset:
    """The examples of shards written by :class:`ShardWriter`, in the order written: one
    int32 tensor (a single feature) or a tuple of them; ``count`` (the number written) is
    the dataset's cardinality."""
    features = check_features(features)
    spec = {name: tf.io.VarLenFeature(tf.int64) if kind == "ids"
            else tf.io.FixedLenFeature([], tf.int64) for name, kind in features}

    def parse(record):
        parsed = tf.io.parse_single_example(record, spec)
        values = tuple(tf.cast(tf.sparse.to_dense(parsed[name]) if kind == "ids"
                               else parsed[name], tf.int32) for name, kind in features)
        return values if len(values) > 1 else values[0]

    files = list(files)
    dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=len(files), block_length=1,
        num_parallel_calls=AUTOTUNE, deterministic=True)
    dataset = dataset.map(parse, num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.apply(tf.data.experimental.assert_cardinality(count))
