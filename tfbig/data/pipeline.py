"""``tf.data`` input pipelines: strings in, fixed-shape padded id batches out.

Read top to bottom: shuffle the raw strings (seeded), batch, tokenise a whole batch at once
inside the graph (one ragged op per batch is much cheaper than one per example), truncate,
add [START]/[END], pad to a *fixed* length, prefetch. Fixed shapes mean XLA compiles the
train step once instead of once per batch length.
"""

import tensorflow as tf

from tfbig.data.special_tokens import END_ID, START_ID

AUTOTUNE = tf.data.AUTOTUNE


def to_fixed_length(ragged_ids, length):
    """Ragged ``[batch, (tokens)]`` → dense ``[batch, length]``: truncate, pad with 0."""
    return ragged_ids[:, :length].to_tensor(default_value=0, shape=[None, length])


def add_start_end(ragged_ids, max_tokens):
    """``[START] + ids[:max_tokens] + [END]`` for every row of a ragged batch."""
    ids = ragged_ids[:, :max_tokens]
    rows = ids.nrows()
    start = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], tf.cast(START_ID, ids.dtype)))
    end = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], tf.cast(END_ID, ids.dtype)))
    return tf.concat([start, ids, end], axis=1)


def encode_translation_batch(sources, targets, source_tokenizer, target_tokenizer,
                             source_length, target_length):
    """A batch of string pairs → ``((source_ids, decoder_inputs), decoder_targets)``.

    Teacher forcing: the decoder reads ``[START] y_1 … y_n`` and learns to predict
    ``y_1 … y_n [END]``; both are ``target_length`` long, so the full sequence keeps at
    most ``target_length - 1`` target tokens.

    Shapes: source ``[batch, source_length]``; decoder inputs/targets
    ``[batch, target_length]``; int32, 0 = padding.
    """
    source_ids = to_fixed_length(source_tokenizer.tokenize(sources), source_length)
    full = add_start_end(target_tokenizer.tokenize(targets), target_length - 1)
    decoder_inputs = to_fixed_length(full[:, :-1], target_length)
    decoder_targets = to_fixed_length(full[:, 1:], target_length)
    return (tf.cast(source_ids, tf.int32), tf.cast(decoder_inputs, tf.int32)), tf.cast(
        decoder_targets, tf.int32)


def translation_dataset(pairs, source_tokenizer, target_tokenizer, *, batch_size,
                        source_length, target_length, shuffle=False, seed=0,
                        shuffle_buffer=10000, repeat=False, drop_remainder=False):
    """Batches for ``model.fit`` from a list of ``(source, target)`` string pairs.

    Args:
        pairs: list of ``(source, target)`` strings.
        source_tokenizer, target_tokenizer: tfbig tokenizers (``tokenize`` → ragged ids).
        batch_size: global batch size.
        source_length, target_length: fixed padded lengths (see encode_translation_batch).
        shuffle: reshuffle every epoch, reproducibly from ``seed``.
        repeat: repeat forever (when training with a fixed ``steps_per_epoch``).
        drop_remainder: drop the last, smaller batch (keeps one static shape for XLA).
    """
    sources = [source for source, _ in pairs]
    targets = [target for _, target in pairs]
    dataset = tf.data.Dataset.from_tensor_slices((sources, targets))
    if shuffle:
        dataset = dataset.shuffle(min(len(pairs), shuffle_buffer), seed=seed,
                                  reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(
        lambda s, t: encode_translation_batch(s, t, source_tokenizer, target_tokenizer,
                                              source_length, target_length),
        num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.prefetch(AUTOTUNE)


def longest_tokenized(texts, tokenizer, batch_size=1024):
    """The largest token count of ``texts`` under ``tokenizer`` (streams in batches)."""
    longest = 0
    dataset = tf.data.Dataset.from_tensor_slices(list(texts)).batch(batch_size)
    for batch in dataset:
        lengths = tokenizer.tokenize(batch).row_lengths()
        longest = max(longest, int(tf.reduce_max(lengths)) if lengths.shape[0] else 0)
    return longest
