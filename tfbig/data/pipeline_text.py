"""Text pipelines for the classify, lm and mlm tasks (conventions in ``pipeline``).

=========================  ================================================================
pipeline                   one batch (``B`` = batch_size, ``T`` = sequence_length)
=========================  ================================================================
classification_dataset     ``({"token_ids": int32 [B,T], "padding_mask": bool [B,T]},
                           labels int32 [B])``; ids ``[CLS] tokens[:T-2] [SEP] 0 …``
language_model_dataset     ``(token_ids int32 [B,T], next_ids int32 [B,T])``: windows of
                           ``[START] tokens [END]`` lines, ``next_ids[t] = token_ids[t+1]``
masked_lm_dataset          ``({"token_ids": masked int32 [B,T], "padding_mask": bool [B,T]},
                           labels int32 [B,T])``: original id where selected, else 0
=========================  ================================================================

With ``buckets`` (classify, mlm) ``T`` is the bucket's length instead: one of a few values.

Each pipeline is two halves: ``*_ids`` / ``language_model_windows`` tokenise the examples
(one at a time, before any shuffle: what ``tfbig.prepare`` writes to shards), and
``id_*_dataset`` shuffles, masks or augments and batches them; the pipeline of strings is
the one after the other, so a prepared folder's batches are the raw corpus's.
"""

import tensorflow as tf

from tfbig.data.augment_text import text_augmenter
from tfbig.data.batching import (AUGMENT, AUTOTUNE, MASKING, TOKENIZE_CHUNK, add_cls_sep,
                                 add_start_end, cache_dataset, check_batching, example_seed,
                                 finish, pad_batches, resolve_seed, shuffle_keyed,
                                 tokenize_in_chunks, traced_tokenize)
from tfbig.data.masking import check_vocab_size, mask_tokens
from tfbig.data.rates import check_rate
from tfbig.errors import TfbigError


def label_ids_from(labels):
    """``{label: id}`` for the labels of a dataset: integers keep their value, names are
    numbered in sorted order. ``["neg", "pos", "neg"]`` → ``{"neg": 0, "pos": 1}``."""
    names = sorted(set(labels))
    if names and all(name.lstrip("-").isdigit() for name in names):
        ids = {name: int(name) for name in names}
        if min(ids.values()) < 0:
            raise TfbigError(f"integer labels must be >= 0, found {min(ids.values())}")
        return ids
    return {name: index for index, name in enumerate(names)}


def _texts_and_labels(examples, label_ids):
    texts, labels = [], []
    for number, (text, label) in enumerate(examples):
        if label not in label_ids:
            raise TfbigError(f"example {number}: label {label!r} is not one of the known "
                             f"labels ({', '.join(map(str, label_ids))})")
        texts.append(text)
        labels.append(label_ids[label])
    if not texts:
        raise TfbigError("no examples: expected a non-empty list of (text, label) pairs")
    return texts, labels


def _labelled_stream_ids(examples, label_ids):
    """A stream of ``(text, label)`` strings → ``(text, label id)``; its labels are all in
    ``label_ids`` (the stream was opened with them: another one is a bad line)."""
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(label_ids)), tf.constant(list(label_ids.values()), tf.int32)), -1)
    return examples.map(lambda text, label: (text, table.lookup(label)))


def _text_stream(texts, shuffle_buffer):
    """``(dataset, shuffle buffer, whether to cache)`` of texts: a list (checked non-empty),
    or a stream of strings taken as it is (never cached: it may not fit in memory)."""
    if isinstance(texts, tf.data.Dataset):
        return texts, shuffle_buffer, False
    texts = list(texts)
    if not texts:
        raise TfbigError("no texts: expected a non-empty list of strings")
    return tf.data.Dataset.from_tensor_slices(texts), min(len(texts), shuffle_buffer), True


def _trim_padding(ids):
    """``[tokens]`` ids with trailing zeros (left by deletions) → without them."""
    return ids[:tf.math.count_nonzero(ids, dtype=tf.int32)]


def _bert_inputs(token_ids, targets):
    """Padded ids → the BERT-style input dict; padding is id 0 and no augmentation makes 0."""
    return {"token_ids": token_ids, "padding_mask": token_ids != 0}, targets


def classification_dataset(examples, tokenizer, label_ids, *, batch_size, sequence_length,
                           shuffle=False, seed=0, augment=None, shuffle_buffer=10000,
                           repeat=False, drop_remainder=False, buckets=None, cache=True):
    """Batches of ``({"token_ids", "padding_mask"}, labels)`` from ``(text, label)`` pairs.

    Args:
        examples: a list of ``(text, label)``, or a stream of them (a ``tf.data.Dataset``
            of strings: not cached); labels are keys of ``label_ids``.
        tokenizer: a tfbig tokenizer.
        label_ids: ``{label: int id}``, e.g. ``label_ids_from(labels)``.
        batch_size: global batch size.
        sequence_length: ``T``, ``[CLS]`` and ``[SEP]`` included (longer texts are cut).
        shuffle: reshuffle every epoch, reproducibly from ``seed``.
        seed: seeds the shuffle and the augmentation; ``None`` for a fresh random one.
        augment: a ``TextAugmentConfig``, a dict of its rates, or any
            ``(token_ids, seed) -> token_ids`` function; applied per example, after the
            cache, with ``example_seed(seed, AUGMENT, index, position)``.
        shuffle_buffer: examples in the shuffle buffer.
        repeat: repeat forever (train with a fixed ``steps_per_epoch``).
        drop_remainder: drop the last, smaller batch (one static batch size for XLA).
        buckets: e.g. ``[16, 32, 64]``: batch similar lengths together and pad each batch to
            the smallest of these (or ``T``) that fits; ``None``: always pad to ``T``.
        cache: keep the tokenised examples in memory (``True``), in files with this path
            prefix (a ``str``), or not at all (``False``).
    """
    check_batching(batch_size, sequence_length, 3)
    seed, deterministic = resolve_seed(seed, shuffle)
    augment = None if augment is None else text_augmenter(augment, tokenizer.vocab_size)
    dataset, buffer_size, cacheable = classification_ids(
        examples, tokenizer, label_ids, sequence_length=sequence_length,
        shuffle_buffer=shuffle_buffer)
    dataset = cache_dataset(dataset, cache if cacheable else False)
    return _classification_batches(
        dataset, batch_size=batch_size, sequence_length=sequence_length, shuffle=shuffle,
        seed=seed, deterministic=deterministic, augment=augment, buffer_size=buffer_size,
        repeat=repeat, drop_remainder=drop_remainder, buckets=buckets)


def classification_ids(examples, tokenizer, label_ids, *, sequence_length,
                       shuffle_buffer=10000):
    """The tokenised examples of ``classification_dataset``, one at a time, and how to
    shuffle them: ``(dataset, shuffle buffer size, cacheable)``.

    Each example is ``(ids, label id)``: ``[CLS] tokens[:T-2] [SEP]`` (the tokenizer's
    int type) and an int32 scalar (what ``tfbig.prepare`` writes). A list is checked and its buffer is at most its
    length; a stream (never cached) keeps ``shuffle_buffer``.
    """
    tokenize = traced_tokenize(tokenizer)
    if isinstance(examples, tf.data.Dataset):  # a stream: never held, never cached
        dataset, buffer_size = _labelled_stream_ids(examples, label_ids), shuffle_buffer
        cacheable = False
    else:
        texts, labels = _texts_and_labels(examples, label_ids)
        dataset = tf.data.Dataset.from_tensor_slices((texts, tf.constant(labels, tf.int32)))
        buffer_size, cacheable = min(len(texts), shuffle_buffer), True
    cls_id, sep_id = tokenizer.cls_id, tokenizer.sep_id  # the tokenizer's own [CLS]/[SEP]
    dataset = tokenize_in_chunks(
        dataset, lambda text, label: (add_cls_sep(tokenize(text), sequence_length - 2,
                                                  cls_id, sep_id), label))
    return dataset, buffer_size, cacheable


def id_classification_dataset(examples, *, batch_size, sequence_length, shuffle=False, seed=0,
                              augment=None, buffer_size=10000, repeat=False,
                              drop_remainder=False, buckets=None, by_file=False):
    """``classification_dataset`` from token ids on: ``examples`` of ``(ids, label id)`` as
    ``classification_ids`` makes them (e.g. a ``tfbig.prepare`` folder's shards), the same
    shuffle, augmentation and batches. ``augment``: a ``text_augmenter`` function or None;
    ``by_file``: read from shard files (``batching.finish``)."""
    check_batching(batch_size, sequence_length, 3)
    seed, deterministic = resolve_seed(seed, shuffle)
    return _classification_batches(
        examples, batch_size=batch_size, sequence_length=sequence_length, shuffle=shuffle,
        seed=seed, deterministic=deterministic, augment=augment, buffer_size=buffer_size,
        repeat=repeat, drop_remainder=drop_remainder, buckets=buckets, by_file=by_file)


def _classification_batches(dataset, *, batch_size, sequence_length, shuffle, seed,
                            deterministic, augment, buffer_size, repeat, drop_remainder,
                            buckets, by_file=False):
    dataset = shuffle_keyed(dataset, shuffle=shuffle, seed=seed, buffer_size=buffer_size,
                            repeat=repeat)

    def augment_example(position, keyed):
        index, (ids, label) = keyed
        if augment is not None:
            ids = _trim_padding(augment(ids, example_seed(seed, AUGMENT, index, position)))
        return ids, label

    dataset = dataset.map(augment_example, num_parallel_calls=AUTOTUNE,
                          deterministic=deterministic)
    dataset = pad_batches(dataset, batch_size=batch_size, sequence_length=sequence_length,
                          drop_remainder=drop_remainder, buckets=buckets)
    return finish(dataset.map(_bert_inputs), by_file=by_file)


def next_token_windows(ragged_ids, length):
    """Cut framed lines into teacher-forcing windows of ``length`` positions.

    A row ``s`` of ``n + 1`` ids gives inputs ``s[:-1]`` and targets ``s[1:]`` (``n`` each),
    cut into ``ceil(n / length)`` windows, the last one padded with 0. Consecutive windows
    thus share one token, and every transition of the line is a target exactly once.

    Args:
        ragged_ids: int ``[rows, (n + 1)]``, e.g. ``[START] tokens [END]`` lines.
        length: ``T``, positions per window.

    Returns:
        ``(inputs, targets)``, each int ``[windows, T]``.
    """
    inputs, targets = ragged_ids[:, :-1], ragged_ids[:, 1:]  # [rows, (n)] each
    counts = inputs.row_lengths()  # [rows]
    windows_per_row = (counts + length - 1) // length
    first_window = tf.cumsum(windows_per_row, exclusive=True)  # [rows]
    place = tf.ragged.range(counts).flat_values  # position in its row, [total]
    window = tf.gather(first_window, inputs.value_rowids()) + place // length
    indices = tf.stack([window, place % length], axis=-1)  # [total, 2]
    shape = tf.stack([tf.reduce_sum(windows_per_row), tf.constant(length, tf.int64)])
    return (tf.scatter_nd(indices, inputs.flat_values, shape),
            tf.scatter_nd(indices, targets.flat_values, shape))


def language_model_dataset(texts, tokenizer, *, batch_size, sequence_length, pack=False,
                           shuffle=False, seed=0, shuffle_buffer=10000, repeat=False,
                           drop_remainder=False, cache=True):
    """Batches of ``(token_ids [B,T], next_ids [B,T])`` for a decoder-only (GPT) model.

    Every text becomes ``[START] tokens [END]``; ``next_token_windows`` cuts long ones into
    windows of ``T``. With ``pack=True`` the framed texts of each chunk of 1,024 are first
    joined into one stream, so short lines share windows (``… [END] [START] …``) and
    hardly any position is padding; attention then reaches back across line boundaries, as
    in GPT pre-training.

    Args:
        texts: a list of ``str``, or a stream of them (a ``tf.data.Dataset``: not cached).
        tokenizer: a tfbig tokenizer.
        batch_size, sequence_length: ``B`` and ``T``.
        pack: pack short texts together (see above).
        shuffle, seed, shuffle_buffer, repeat, drop_remainder, cache: as in
            ``classification_dataset`` (windows are shuffled; nothing here is random).
    """
    check_batching(batch_size, sequence_length, 1)
    seed, deterministic = resolve_seed(seed, shuffle)
    dataset, cacheable = language_model_windows(texts, tokenizer,
                                                sequence_length=sequence_length, pack=pack,
                                                deterministic=deterministic)
    dataset = cache_dataset(dataset, cache and cacheable)
    return _window_batches(dataset, batch_size=batch_size, shuffle=shuffle, seed=seed,
                           shuffle_buffer=shuffle_buffer, repeat=repeat,
                           drop_remainder=drop_remainder)


def language_model_windows(texts, tokenizer, *, sequence_length, pack=False,
                           deterministic=True):
    """The windows of ``language_model_dataset`` one at a time, before the shuffle:
    ``(dataset of (token_ids [T], next_ids [T]) int32, cacheable)`` (what ``tfbig.prepare``
    writes). A list is checked non-empty and may be cached; a stream is not."""
    dataset, _, cacheable = _text_stream(texts, 1)
    tokenize = traced_tokenize(tokenizer)

    def windows(chunk):
        framed = add_start_end(tokenize(chunk), None)  # [chunk, (n + 1)]
        if pack:
            stream = framed.flat_values
            framed = tf.RaggedTensor.from_row_lengths(stream, tf.shape(stream, tf.int64)[:1])
        return next_token_windows(framed, sequence_length)

    dataset = dataset.batch(TOKENIZE_CHUNK)
    dataset = dataset.map(windows, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    return dataset.unbatch(), cacheable


def id_language_model_dataset(windows, *, batch_size, sequence_length, shuffle=False, seed=0,
                              shuffle_buffer=10000, repeat=False, drop_remainder=False,
                              by_file=False):
    """``language_model_dataset`` from its windows on (``language_model_windows``, e.g. a
    ``tfbig.prepare`` folder's shards): the same shuffle and batches. ``by_file``: read
    from shard files (``batching.finish``)."""
    check_batching(batch_size, sequence_length, 1)
    seed, _ = resolve_seed(seed, shuffle)
    windows = windows.map(lambda inputs, targets: (tf.ensure_shape(inputs, [sequence_length]),
                                                   tf.ensure_shape(targets, [sequence_length])))
    return _window_batches(windows, batch_size=batch_size, shuffle=shuffle, seed=seed,
                           shuffle_buffer=shuffle_buffer, repeat=repeat,
                           drop_remainder=drop_remainder, by_file=by_file)


def _window_batches(dataset, *, batch_size, shuffle, seed, shuffle_buffer, repeat,
                    drop_remainder, by_file=False):
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    return finish(dataset.batch(batch_size, drop_remainder=drop_remainder), by_file=by_file)


def masked_lm_dataset(texts, tokenizer, *, batch_size, sequence_length, mask_rate=0.15,
                      seed=0, shuffle=False, shuffle_buffer=10000, repeat=False,
                      drop_remainder=False, buckets=None, cache=True):
    """Batches of ``({"token_ids", "padding_mask"}, labels)`` for BERT pre-training.

    Each text becomes ``[CLS] tokens[:T-2] [SEP]``, then ``masking.mask_tokens`` selects
    ``mask_rate`` of its real tokens (80% → ``[MASK]``, 10% → random learned token, 10%
    unchanged) with ``example_seed(seed, MASKING, index, position)``: reproducible, and new
    masks every epoch when shuffling (dynamic masking, as RoBERTa).

    Args:
        texts: a list of ``str``, or a stream of them (a ``tf.data.Dataset``: not cached).
        tokenizer: a tfbig tokenizer.
        batch_size, sequence_length: ``B`` and ``T``.
        mask_rate: expected fraction of real tokens to predict.
        seed, shuffle, shuffle_buffer, repeat, drop_remainder, buckets, cache: as in
            ``classification_dataset``.
    """
    check_batching(batch_size, sequence_length, 3)
    seed, deterministic = resolve_seed(seed, shuffle)
    check_rate("mask_rate", mask_rate)  # now, not at the first batch inside tf.data
    check_vocab_size(tokenizer.vocab_size)
    dataset, buffer_size, cacheable = masked_lm_ids(
        texts, tokenizer, sequence_length=sequence_length, shuffle_buffer=shuffle_buffer)
    dataset = cache_dataset(dataset, cache and cacheable)
    return _masked_batches(
        dataset, vocab_size=tokenizer.vocab_size, batch_size=batch_size,
        sequence_length=sequence_length, mask_rate=mask_rate, seed=seed,
        deterministic=deterministic, shuffle=shuffle, buffer_size=buffer_size, repeat=repeat,
        drop_remainder=drop_remainder, buckets=buckets)


def masked_lm_ids(texts, tokenizer, *, sequence_length, shuffle_buffer=10000):
    """The tokenised texts of ``masked_lm_dataset`` one at a time, before masking:
    ``(dataset of [CLS] tokens[:T-2] [SEP] ids, shuffle buffer size, cacheable)`` (what
    ``tfbig.prepare`` writes)."""
    dataset, buffer_size, cacheable = _text_stream(texts, shuffle_buffer)
    tokenize = traced_tokenize(tokenizer)
    dataset = tokenize_in_chunks(
        dataset, lambda text: add_cls_sep(tokenize(text), sequence_length - 2))
    return dataset, buffer_size, cacheable


def id_masked_lm_dataset(examples, *, vocab_size, batch_size, sequence_length,
                         mask_rate=0.15, seed=0, shuffle=False, buffer_size=10000,
                         repeat=False, drop_remainder=False, buckets=None, by_file=False):
    """``masked_lm_dataset`` from token ids on (``masked_lm_ids``, e.g. a ``tfbig.prepare``
    folder's shards): the same shuffle, masks and batches for the same seed.
    ``vocab_size``: the tokenizer's; ``by_file``: read from shard files."""
    check_batching(batch_size, sequence_length, 3)
    seed, deterministic = resolve_seed(seed, shuffle)
    check_rate("mask_rate", mask_rate)
    check_vocab_size(vocab_size)
    return _masked_batches(
        examples, vocab_size=vocab_size, batch_size=batch_size,
        sequence_length=sequence_length, mask_rate=mask_rate, seed=seed,
        deterministic=deterministic, shuffle=shuffle, buffer_size=buffer_size, repeat=repeat,
        drop_remainder=drop_remainder, buckets=buckets, by_file=by_file)


def _masked_batches(dataset, *, vocab_size, batch_size, sequence_length, mask_rate, seed,
                    deterministic, shuffle, buffer_size, repeat, drop_remainder, buckets,
                    by_file=False):
    dataset = shuffle_keyed(dataset, shuffle=shuffle, seed=seed, buffer_size=buffer_size,
                            repeat=repeat)

    def mask_example(position, keyed):
        index, ids = keyed
        return mask_tokens(ids, example_seed(seed, MASKING, index, position),
                           vocab_size=vocab_size, mask_rate=mask_rate)

    dataset = dataset.map(mask_example, num_parallel_calls=AUTOTUNE,
                          deterministic=deterministic)
    dataset = pad_batches(dataset, batch_size=batch_size, sequence_length=sequence_length,
                          drop_remainder=drop_remainder, buckets=buckets)
    return finish(dataset.map(_bert_inputs), by_file=by_file)
