"""The translation pipelines: ``(source, target)`` string pairs in, teacher-forcing batches
``((source_ids, decoder_inputs), decoder_targets)`` out, int32, 0 = padding.

- ``translation_dataset``: fixed-length batches of ``batch_size`` pairs (validation, test,
  and training when ``train.batch_tokens`` is 0).
- ``translation_token_batches``: training batches of about ``batch_tokens`` tokens grouped
  by length (``token_buckets``), the shared order of ``pipeline_text``: tokenise in chunks
  → cache → repeat → shuffle (seeded) → [augment] → bucket → ``finish``.

- ``id_translation_dataset`` / ``id_token_batches``: the same batches from token ids, a
  ``tfbig.prepare`` folder's shards (``translation_ids`` makes them;
  ``translation_token_batches`` is ``translation_ids`` + ``id_token_batches``).

``translation_dataset`` keeps its batch-first order (shuffle the strings, batch, tokenise a
whole batch at once): changing it would change every seeded run's batches. Both end with
``batching.finish`` (distribution options, prefetch). The other data kinds have their own
module: ``pipeline_text`` (classify, lm, mlm) and ``pipeline_image``.
"""

import tensorflow as tf

from tfbig.data.augment_text import text_augmenter
from tfbig.data.batching import (AUGMENT, AUTOTUNE, add_start_end, example_seed, finish,
                                 resolve_seed, shuffle_keyed, to_fixed_length,
                                 tokenize_in_chunks, traced_tokenize)


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


def pair_dataset(pairs, shuffle_buffer):
    """``(dataset, shuffle buffer size)`` of string pairs: a list becomes
    ``from_tensor_slices`` (buffer: at most its length); a ``tf.data.Dataset`` of
    ``(source, target)`` strings — a stream of shards, never in memory — is taken as it is.
    Both paths then share every step, so a list's batches do not change."""
    if isinstance(pairs, tf.data.Dataset):
        return pairs, shuffle_buffer
    sources = [source for source, _ in pairs]
    targets = [target for _, target in pairs]
    dataset = tf.data.Dataset.from_tensor_slices((sources, targets))
    return dataset, min(len(pairs), shuffle_buffer)


def translation_dataset(pairs, source_tokenizer, target_tokenizer, *, batch_size,
                        source_length, target_length, shuffle=False, seed=0,
                        shuffle_buffer=10000, repeat=False, drop_remainder=False,
                        augment=None):
    """Batches for ``model.fit`` from a list of ``(source, target)`` string pairs.

    Args:
        pairs: list of ``(source, target)`` strings, or a stream of them (``pair_dataset``).
        source_tokenizer, target_tokenizer: tfbig tokenizers (``tokenize`` → ragged ids).
        batch_size: global batch size.
        source_length, target_length: fixed padded lengths (see encode_translation_batch).
        shuffle: reshuffle every epoch, reproducibly from ``seed``.
        seed: seeds the shuffle and the augmentation; ``None`` for a fresh random one.
        repeat: repeat forever (when training with a fixed ``steps_per_epoch``).
        drop_remainder: drop the last, smaller batch (keeps one static shape for XLA).
        augment: noise on the *source* ids, the model's input: a ``TextAugmentConfig``,
            a dict of its rates, or a ``(token_ids, seed) -> token_ids`` function. Each
            example is augmented with its own ``example_seed`` (see ``batching``), the rows
            of a batch one by one, so the result does not depend on the batch size.
    """
    seed, deterministic = resolve_seed(seed, shuffle)
    augment = None if augment is None else text_augmenter(augment, source_tokenizer.vocab_size)
    dataset, buffer_size = pair_dataset(pairs, shuffle_buffer)
    if augment is not None:
        dataset = dataset.enumerate()  # (index, (source, target))
    if shuffle:
        dataset = dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    if augment is not None:
        dataset = dataset.enumerate()  # (position, (index, (source, target)))
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def encode(sources, targets):
        return encode_translation_batch(sources, targets, source_tokenizer, target_tokenizer,
                                        source_length, target_length)

    def encode_augmented(positions, keyed):
        indices, (sources, targets) = keyed
        (source_ids, decoder_inputs), decoder_targets = encode(sources, targets)
        source_ids = tf.map_fn(  # one row at a time, each with its own seed
            lambda row: augment(row[0], example_seed(seed, AUGMENT, row[1], row[2])),
            (source_ids, indices, positions), fn_output_signature=tf.int32)
        return (source_ids, decoder_inputs), decoder_targets

    dataset = dataset.map(encode if augment is None else encode_augmented,
                          num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    return finish(dataset)


BUCKET_STEP = 8  # padded lengths of token-budget batches: 8, 16, 24, …


def token_buckets(max_length, batch_tokens):
    """``(boundaries, batch_sizes)`` of batches of about ``batch_tokens`` tokens each.

    An example of length ``n`` (the longer of its source and decoder inputs) goes to the
    first bucket whose padded length ``p`` (a multiple of ``BUCKET_STEP``) is at least
    ``n``; that bucket's batches hold ``batch_tokens // p`` examples, so a batch of short
    sentences has many rows and one of long sentences few, and every batch holds about the
    same number of tokens with little padding (Vaswani et al. 2017, section 5.1: "batched
    together by approximate sequence length … approximately 25000 source tokens").
    """
    padded = list(range(BUCKET_STEP, max_length + BUCKET_STEP, BUCKET_STEP))
    boundaries = [p + 1 for p in padded]  # bucket i holds lengths < boundaries[i]
    sizes = [max(1, batch_tokens // p) for p in padded]
    return boundaries, sizes + [1]  # the last: lengths past max_length (none are)


def token_batches_per_epoch(lengths, max_length, batch_tokens):
    """Batches in one pass over examples of these ``lengths`` (``token_buckets``)."""
    boundaries, sizes = token_buckets(max_length, batch_tokens)
    counts = [0] * len(sizes)
    for length in lengths:
        counts[next(i for i, b in enumerate(boundaries + [float("inf")]) if length < b)] += 1
    return max(1, round(sum(count / size for count, size in zip(counts, sizes))))


def translation_ids(pairs_dataset, source_tokenizer, target_tokenizer, source_length,
                    target_length):
    """A dataset of ``(source, target)`` strings → ``(source_ids, framed target ids)``
    int32 vectors, one example at a time: the source truncated to ``source_length``, the
    target ``[START] … [END]`` with at most ``target_length - 1`` tokens (what
    ``id_token_batches`` reads, and what ``tfbig.prepare`` writes)."""
    source_tokenize = traced_tokenize(source_tokenizer)
    target_tokenize = traced_tokenize(target_tokenizer)

    def encode(sources, targets):
        source_ids = source_tokenize(sources)[:, :source_length]
        framed = add_start_end(target_tokenize(targets), target_length - 1)  # [START] … [END]
        return tf.cast(source_ids, tf.int32), tf.cast(framed, tf.int32)

    return tokenize_in_chunks(pairs_dataset, encode)


def translation_token_batches(pairs, source_tokenizer, target_tokenizer, *, batch_tokens,
                              source_length, target_length, seed=0, shuffle_buffer=10000,
                              augment=None):
    """Training batches of about ``batch_tokens`` tokens, grouped by length, for ever.

    The same batches as ``translation_dataset`` in layout — ``((source_ids,
    decoder_inputs), decoder_targets)``, int32, 0 = padding — but each padded only to its
    bucket's length (``token_buckets``) instead of the longest example of the corpus. The
    stream repeats, reshuffled each pass from ``seed``: ``model.fit`` takes
    ``token_batches_per_epoch(...)`` steps an epoch.

    Pipeline: strings → tokenise in chunks → decoder inputs/targets → cache (a list, not
    a stream) → repeat → shuffle (seeded) → [augment the source ids] → bucket by length →
    prefetch.
    """
    seed, _ = resolve_seed(seed, True)
    augment = None if augment is None else text_augmenter(augment, source_tokenizer.vocab_size)
    pairs_dataset, buffer_size = pair_dataset(pairs, shuffle_buffer)
    dataset = translation_ids(pairs_dataset, source_tokenizer, target_tokenizer,
                              source_length, target_length)
    return id_token_batches(dataset, batch_tokens=batch_tokens, source_length=source_length,
                            target_length=target_length, seed=seed, buffer_size=buffer_size,
                            augment=augment,
                            cache=not isinstance(pairs, tf.data.Dataset))


def id_token_batches(dataset, *, batch_tokens, source_length, target_length, seed,
                     buffer_size, augment=None, cache=False, by_file=False):
    """``translation_token_batches`` from token ids on: ``dataset`` of ``(source_ids,
    framed target ids)`` int32 vectors (source truncated to ``source_length``, the target
    framed ``[START] … [END]`` with at most ``target_length - 1`` tokens), e.g. the
    examples of a ``tfbig.prepare`` folder (``Task.prepared_examples``). ``augment``: a
    ``text_augmenter`` function or None; ``cache``: hold the ids in memory (a list);
    ``by_file``: read from shard files (``batching.finish``)."""
    seed, _ = resolve_seed(seed, True)
    # Teacher forcing, per example: the decoder reads [START] y and learns y [END].
    dataset = dataset.map(lambda source, framed: (source, framed[:-1], framed[1:]))
    if cache:  # a stream is read again, never held
        dataset = dataset.cache()
    dataset = shuffle_keyed(dataset, shuffle=True, seed=seed, buffer_size=buffer_size,
                            repeat=True)
    if augment is None:
        dataset = dataset.map(lambda position, keyed: keyed[1])
    else:
        dataset = dataset.map(
            lambda position, keyed: (augment(keyed[1][0], example_seed(
                seed, AUGMENT, keyed[0], position)), *keyed[1][1:]),
            num_parallel_calls=AUTOTUNE)
    boundaries, sizes = token_buckets(max(source_length, target_length), batch_tokens)
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda source, inputs, targets: tf.maximum(tf.shape(source)[0],
                                                                      tf.shape(inputs)[0]),
        bucket_boundaries=boundaries, bucket_batch_sizes=sizes,
        padded_shapes=([None], [None], [None]), pad_to_bucket_boundary=True,
        drop_remainder=True)
    dataset = dataset.map(lambda source, inputs, targets: ((source, inputs), targets))
    return finish(dataset, by_file=by_file)


def id_translation_dataset(examples, *, batch_size, source_length, target_length,
                           shuffle=False, seed=0, buffer_size=10000, repeat=False,
                           drop_remainder=False, by_file=False):
    """``translation_dataset`` from token ids on: the same shuffle (an order that depends
    only on the seed and the number of examples), batches and tensors, from ``examples``
    of ``(source_ids, framed target ids)`` (see ``id_token_batches``)."""
    seed, deterministic = resolve_seed(seed, shuffle)
    dataset = examples
    if shuffle:
        dataset = dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(lambda source, framed: (source, framed[:-1], framed[1:]),
                          num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    dataset = dataset.padded_batch(
        batch_size, padded_shapes=([source_length], [target_length], [target_length]),
        drop_remainder=drop_remainder)
    dataset = dataset.map(lambda source, inputs, targets: ((source, inputs), targets))
    return finish(dataset, by_file=by_file)
