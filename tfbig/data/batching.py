"""The ``tf.data`` plumbing every tfbig pipeline shares.

- framing ragged id batches: ``to_fixed_length``, ``add_start_end``, ``add_cls_sep``;
- ``tokenize_in_chunks``: tokenise many strings per op, then hand out one example at a time;
- ``example_seed``: the per-example seed of every random op (see below);
- ``pad_batches``: fixed-shape padded batches, or length buckets with a few fixed shapes;
- ``finish``: distribution options and prefetching.

Seeding. Each random op in a pipeline (augmentation, MLM masking) gets its own seed,

    stateless_fold_in(stateless_fold_in([seed, stream], index), position)

where ``index`` is the example's place in the input (``Dataset.enumerate`` before the
shuffle), ``position`` its place in the stream the seeded shuffle produced (``enumerate``
after it; equal to ``index`` without shuffling) and ``stream`` names the job (``AUGMENT``,
``MASKING``, ``MIXING``). Stateless ops keyed this way give the same results for the same
``seed`` whatever the map parallelism, batch size or machine, eagerly or in the graph; and
because ``reshuffle_each_iteration`` moves every example each epoch, every epoch draws new
augmentations and masks (RoBERTa's "dynamic masking"), still reproducibly.
"""

import numbers
import random
import weakref

import tensorflow as tf

from tfbig.errors import TfbigError
from tfbig.special_tokens import CLS_ID, END_ID, SEP_ID, START_ID

AUTOTUNE = tf.data.AUTOTUNE

# Streams of example_seed: independent randomness for each job on the same example.
AUGMENT, MASKING, MIXING = 1, 2, 3

TOKENIZE_CHUNK = 1024  # strings tokenised per op (one ragged op per chunk is much cheaper)


def to_fixed_length(ragged_ids, length):
    """Ragged ``[batch, (tokens)]`` → dense ``[batch, length]``: truncate, pad with 0."""
    return ragged_ids[:, :length].to_tensor(default_value=0, shape=[None, length])


def _frame(ragged_ids, first_id, last_id, max_tokens):
    """``[first] + ids[:max_tokens] + [last]`` for every row (all tokens if ``None``)."""
    ids = ragged_ids if max_tokens is None else ragged_ids[:, :max_tokens]
    # Interleaved by position rather than with tf.concat(axis=1): concatenating ragged rows
    # transposes an int64 index matrix, an op TensorFlow's oneDNN CPU kernels refuse with an
    # ERROR line ("oneDNN supports DT_INT64 only on platforms with AVX-512") in every run.
    splits = ids.row_splits  # row r of ids is values[splits[r]:splits[r + 1]]
    rows = ids.nrows(out_type=splits.dtype)
    framed_splits = splits + 2 * tf.range(rows + 1, dtype=splits.dtype)  # 2 more per row
    value_positions = (tf.range(tf.size(ids.values, out_type=splits.dtype)) + 1
                       + 2 * ids.value_rowids())  # value i of row r moves 2r + 1 further
    values = tf.dynamic_stitch(
        [tf.cast(positions, tf.int32) for positions in
         (framed_splits[:-1], value_positions, framed_splits[1:] - 1)],
        [tf.fill([rows], tf.cast(first_id, ids.dtype)), ids.values,
         tf.fill([rows], tf.cast(last_id, ids.dtype))])
    return tf.RaggedTensor.from_row_splits(values, framed_splits, validate=False)


def add_start_end(ragged_ids, max_tokens):
    """``[START] + ids[:max_tokens] + [END]`` for every row of a ragged batch."""
    return _frame(ragged_ids, START_ID, END_ID, max_tokens)


def add_cls_sep(ragged_ids, max_tokens, cls_id=CLS_ID, sep_id=SEP_ID):
    """``[CLS] + ids[:max_tokens] + [SEP]`` for every row of a ragged batch (BERT inputs).

    The ids default to tfbig's; a Hugging Face vocabulary has its own (101/102 in BERT's).
    """
    return _frame(ragged_ids, cls_id, sep_id, max_tokens)


_TRACED_TOKENIZE = weakref.WeakKeyDictionary()  # tokenizer -> its tf.function


def traced_tokenize(tokenizer):
    """``tokenizer.tokenize`` as a ``tf.function``, traced once per tokenizer.

    A dataset map traces its function anew for every pipeline built; calling this instead
    reuses one traced tokenizer graph (WordPiece's is large), which makes building a
    pipeline several times faster.
    """
    function = _TRACED_TOKENIZE.get(tokenizer)
    if function is None:
        owner = weakref.ref(tokenizer)  # a bound method would keep the key alive for ever
        function = tf.function(lambda strings: owner().tokenize(strings),
                               input_signature=[tf.TensorSpec([None], tf.string)])
        _TRACED_TOKENIZE[tokenizer] = function
    return function


def tokenize_in_chunks(dataset, encode):
    """Apply ``encode`` to chunks of ``TOKENIZE_CHUNK`` elements, then unbatch.

    ``encode`` maps a batch of the dataset's elements (e.g. a ``[chunk]`` string tensor, or
    ``(texts, labels)``) to the same structure with ragged ``[chunk, (tokens)]`` ids. The
    examples come out one at a time, ids as dense ``[tokens]`` int32 vectors.
    """
    dataset = dataset.batch(TOKENIZE_CHUNK)
    dataset = dataset.map(encode, num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.unbatch().map(_dense)


def _dense(*example):
    # unbatch() of ragged ids yields a RaggedTensorSpec of ragged rank 0, which padded_batch
    # refuses; passing it through a map makes it a plain TensorSpec.
    example = tuple(tf.identity(part) for part in example)
    return example if len(example) > 1 else example[0]


def example_seed(seed, stream, index, position):
    """The ``[2]`` int64 seed of one example for job ``stream`` (see the module docstring)."""
    fold_in = tf.random.experimental.stateless_fold_in
    base = tf.constant([seed, stream], dtype=tf.int64)
    return fold_in(fold_in(base, tf.cast(index, tf.int64)), tf.cast(position, tf.int64))


def shuffle_keyed(dataset, *, shuffle, seed, buffer_size, repeat):
    """``[repeat] → enumerate → [shuffle] → enumerate``: elements ``(position, (index, x))``.

    ``x`` is the original element; ``index`` and ``position`` feed ``example_seed``. With
    ``repeat`` the index counts on through the passes (``pass · N + i``).
    """
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.enumerate()
    if shuffle:
        dataset = dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    return dataset.enumerate()


def cache_dataset(dataset, cache):
    """``cache=True``: in memory; a ``str``: in files with that path prefix; ``False``: not."""
    if cache is True:
        return dataset.cache()
    if isinstance(cache, str):
        return dataset.cache(cache)
    if cache is False:
        return dataset
    raise TfbigError(f"cache={cache!r}: expected True (memory), False, or a file prefix str")


def resolve_seed(seed, shuffle):
    """``(seed, deterministic)``. A given seed makes the whole pipeline reproducible and the
    parallel maps keep their order; ``None`` draws a fresh seed and, when shuffling anyway,
    lets parallel maps hand out elements as they finish (an unshuffled pipeline always keeps
    the input order: evaluation lines its outputs up with the examples).
    """
    if seed is None:
        return random.SystemRandom().randrange(2**31), not shuffle
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TfbigError(f"seed={seed!r}: expected an integer or None")
    return int(seed), True


def check_batching(batch_size, sequence_length, minimum_length):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise TfbigError(f"batch_size={batch_size!r}: expected an int >= 1")
    if (isinstance(sequence_length, bool) or not isinstance(sequence_length, int)
            or sequence_length < minimum_length):
        raise TfbigError(f"sequence_length={sequence_length!r}: expected an int >= "
                         f"{minimum_length}")


def bucket_lengths(buckets, sequence_length):
    """The padded lengths of bucketed batches: the sorted buckets below T, then T itself."""
    if buckets is None:
        return [sequence_length]
    lengths = sorted(set(buckets))
    if not lengths or any(isinstance(b, bool) or not isinstance(b, int) or b < 1
                          for b in lengths):
        raise TfbigError(f"buckets={buckets!r}: expected a non-empty list of positive ints "
                         "(the padded lengths, e.g. [16, 32, 64])")
    return [b for b in lengths if b < sequence_length] + [sequence_length]


def pad_batches(dataset, *, batch_size, sequence_length, drop_remainder, buckets=None):
    """Batch examples whose first element is ids ``[tokens]``, padding with 0 to a fixed length.

    Every ``[tokens]``-shaped element of an example (ids, MLM labels) is padded to the same
    length; other elements (class labels) must have fixed shapes. Without ``buckets`` every
    batch is ``[batch_size, sequence_length]``. With ``buckets=[16, 32]`` a batch holds
    examples of similar length and is padded to the smallest of 16, 32, ``sequence_length``
    that fits its longest member: three shapes in all, so XLA compiles three programs and
    short batches waste less padding. Examples must be at most ``sequence_length`` long.
    """
    spec = dataset.element_spec
    single = not isinstance(spec, tuple)
    lengths = bucket_lengths(buckets, sequence_length)
    padded_length = sequence_length if buckets is None else None

    def padded_shape(component):
        variable = component.shape.rank == 1 and component.shape[0] is None
        return tf.TensorShape([padded_length]) if variable else component.shape

    shapes = padded_shape(spec) if single else tuple(padded_shape(c) for c in spec)
    if buckets is None:
        return dataset.padded_batch(batch_size, padded_shapes=shapes,
                                    drop_remainder=drop_remainder)
    return dataset.bucket_by_sequence_length(
        element_length_func=lambda ids, *_: tf.shape(ids)[0],
        # bucket i holds lengths in [boundary[i-1], boundary[i]) and is padded to
        # boundary[i] - 1 = lengths[i] (pad_to_bucket_boundary).
        bucket_boundaries=[length + 1 for length in lengths],
        bucket_batch_sizes=[batch_size] * (len(lengths) + 1),
        padded_shapes=shapes, pad_to_bucket_boundary=True, drop_remainder=drop_remainder)


def finish(dataset, by_file=False):
    """Distribution options, then prefetch: the last step of every pipeline.

    The batch size is the *global* batch: ``model.fit`` under a ``tf.distribute`` strategy
    (or ``strategy.experimental_distribute_dataset``) splits each batch across the
    replicas. Our datasets come from in-memory tensors, not files, so auto-sharding across
    workers must shard by element: ``AutoShardPolicy.DATA``. ``by_file``: a pipeline that
    reads shard files (a ``tfbig.prepare`` folder) lets each worker read its own files
    (``AUTO``: by file, by element when that fails).
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.AUTO if by_file else
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options).prefetch(AUTOTUNE)
