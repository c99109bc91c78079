"""Tests of the tf.data pipelines on the shipped samples: the exact structure, dtypes and
fixed shapes the models are built to; reproducibility; bucketing; augmentation in place.

One WordPiece tokenizer is learned per module, on a slice of the samples, to stay fast.
"""

import os
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from tfbig.data import pipeline_image, pipeline_text, pipeline_translate
from tfbig.data.augment_image import ImageAugmentConfig
from tfbig.data.augment_text import TextAugmentConfig
from tfbig.data.pipeline_text import label_ids_from, next_token_windows
from tfbig.data.sources import list_images, read_labelled, read_pairs, read_texts
from tfbig.special_tokens import (CLS_ID, END_ID, MASK_ID, NUM_SPECIAL_TOKENS, SEP_ID,
                                       START_ID)
from tfbig.data.tfds import load_tfds
from tfbig.data.tokenizers import learn_tokenizer
from tfbig.errors import TfbigError

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data")
T = 24  # sequence_length
B = 16  # batch_size


@pytest.fixture(scope="module")
def reviews():
    return list(read_labelled(os.path.join(DATA, "reviews.tsv")))[:160]


@pytest.fixture(scope="module")
def corpus():
    return list(read_texts(os.path.join(DATA, "corpus.txt")))[:160]


@pytest.fixture(scope="module")
def tokenizer(reviews, corpus):
    return learn_tokenizer("wordpiece", [t for t, _ in reviews] + corpus, vocab_size=400,
                           lower_case=True)


def batches(dataset):
    return list(dataset.as_numpy_iterator())


def assert_same_batches(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)


def assert_bert_rows(token_ids, padding_mask):
    """``[CLS] … [SEP] 0 …`` in every row, and the mask marks exactly the non-padding."""
    np.testing.assert_array_equal(padding_mask, token_ids != 0)
    for row in token_ids:
        length = int((row != 0).sum())
        assert row[0] == CLS_ID and row[length - 1] == SEP_ID and (row[length:] == 0).all()


# ------------------------------------------------------------------------ classification
@pytest.fixture(scope="module")
def label_ids(reviews):
    return label_ids_from([label for _, label in reviews])


def classification(reviews, tokenizer, label_ids, **options):
    options = {"batch_size": B, "sequence_length": T, **options}
    return pipeline_text.classification_dataset(reviews, tokenizer, label_ids, **options)


def test_label_ids_number_names_in_order_and_keep_integers():
    assert label_ids_from(["pos", "neg", "pos"]) == {"neg": 0, "pos": 1}
    assert label_ids_from(["2", "0", "10"]) == {"0": 0, "10": 10, "2": 2}


def test_classification_batches_have_the_documented_structure(reviews, tokenizer, label_ids):
    dataset = classification(reviews, tokenizer, label_ids, drop_remainder=True, seed=None)
    spec_inputs, spec_labels = dataset.element_spec
    assert spec_inputs["token_ids"] == tf.TensorSpec([B, T], tf.int32)
    assert spec_inputs["padding_mask"] == tf.TensorSpec([B, T], tf.bool)
    assert spec_labels == tf.TensorSpec([B], tf.int32)
    found = batches(dataset)
    assert len(found) == len(reviews) // B
    inputs, labels = found[0]
    assert_bert_rows(inputs["token_ids"], inputs["padding_mask"])
    assert inputs["padding_mask"][:, -1].any()  # long reviews are cut to T-2 tokens
    np.testing.assert_array_equal(labels, [label_ids[label] for _, label in reviews[:B]])
    expected = tokenizer.tokenize([reviews[0][0]])[0, :T - 2].numpy()
    np.testing.assert_array_equal(inputs["token_ids"][0, 1:len(expected) + 1], expected)
    assert dataset.options().experimental_distribute.auto_shard_policy == (
        tf.data.experimental.AutoShardPolicy.DATA)


def test_classification_is_reproducible_and_reshuffles_each_epoch(reviews, tokenizer,
                                                                  label_ids):
    options = dict(shuffle=True, seed=3, augment=TextAugmentConfig(mask_rate=0.2,
                                                                   delete_rate=0.1))
    dataset = classification(reviews, tokenizer, label_ids, **options)
    first_epoch, second_epoch = batches(dataset), batches(dataset)
    assert_same_batches(first_epoch, batches(classification(reviews, tokenizer, label_ids,
                                                             **options)))
    assert not np.array_equal(first_epoch[0][1], second_epoch[0][1])  # new order
    for inputs, _ in first_epoch:  # augmented, yet still [CLS] … [SEP] with a true mask
        assert_bert_rows(inputs["token_ids"], inputs["padding_mask"])
    ids = np.concatenate([inputs["token_ids"] for inputs, _ in first_epoch])
    assert 0.1 < (ids == MASK_ID).sum() / (ids >= NUM_SPECIAL_TOKENS - 1).sum() < 0.3


def test_bucketing_pads_each_batch_to_the_smallest_bucket_that_fits(reviews, tokenizer,
                                                                    label_ids):
    dataset = classification(reviews, tokenizer, label_ids, buckets=[12, 16, 99],
                             sequence_length=T)
    shapes = set()
    for inputs, labels in batches(dataset):
        ids = inputs["token_ids"]
        length = ids.shape[1]
        shapes.add(length)
        longest = int((ids != 0).sum(axis=1).max())
        assert longest <= length and longest > {12: 0, 16: 12, T: 16}[length]
        assert_bert_rows(ids, inputs["padding_mask"])
        assert labels.shape == (ids.shape[0],)
    assert shapes <= {12, 16, T} and len(shapes) >= 2


# ------------------------------------------------------------------------------ lm / mlm
def test_next_token_windows_cut_lines_into_teacher_forcing_windows():
    ragged = tf.ragged.constant([[2, 10, 11, 12, 13, 14, 3], [2, 20, 3]], dtype=tf.int32)
    inputs, targets = next_token_windows(ragged, 4)
    np.testing.assert_array_equal(inputs, [[2, 10, 11, 12], [13, 14, 0, 0], [2, 20, 0, 0]])
    np.testing.assert_array_equal(targets, [[10, 11, 12, 13], [14, 3, 0, 0], [20, 3, 0, 0]])


@pytest.mark.parametrize("pack", [False, True])
def test_language_model_batches_shift_by_one(pack, corpus, tokenizer):
    dataset = pipeline_text.language_model_dataset(corpus, tokenizer, batch_size=B,
                                              sequence_length=T, pack=pack,
                                              drop_remainder=True)
    assert dataset.element_spec == (tf.TensorSpec([B, T], tf.int32),) * 2
    found = batches(dataset)
    inputs = np.concatenate([x for x, _ in found])
    targets = np.concatenate([y for _, y in found])
    real = inputs != 0
    np.testing.assert_array_equal(real, targets != 0)  # a target for every real input
    np.testing.assert_array_equal(inputs[:, 1:][real[:, 1:]], targets[:, :-1][real[:, 1:]])
    lines = tokenizer.tokenize(corpus[:1])[0].numpy()
    np.testing.assert_array_equal(inputs[0, :len(lines) + 1], [START_ID, *lines][:T])
    if pack:  # short lines share windows: no padding, [END] [START] inside windows
        assert real.all() and ((inputs[:, :-1] == END_ID) & (inputs[:, 1:] == START_ID)).any()
    else:
        assert (inputs[:, 0] == START_ID).mean() > 0.5 and not real.all()


def test_masked_lm_batches_mask_15_percent_reproducibly(corpus, tokenizer):
    options = dict(batch_size=B, sequence_length=T, seed=5, shuffle=True, drop_remainder=True)
    dataset = pipeline_text.masked_lm_dataset(corpus, tokenizer, **options)
    spec_inputs, spec_labels = dataset.element_spec
    assert spec_inputs == {"token_ids": tf.TensorSpec([B, T], tf.int32),
                           "padding_mask": tf.TensorSpec([B, T], tf.bool)}
    assert spec_labels == tf.TensorSpec([B, T], tf.int32)
    found = batches(dataset)
    assert_same_batches(found, batches(pipeline_text.masked_lm_dataset(corpus, tokenizer,
                                                                  **options)))
    ids = np.concatenate([x["token_ids"] for x, _ in found])
    labels = np.concatenate([y for _, y in found])
    assert_bert_rows(ids, np.concatenate([x["padding_mask"] for x, _ in found]))
    selected = labels != 0
    real = (ids >= NUM_SPECIAL_TOKENS) | selected  # a selected token may now be [MASK]
    assert abs(selected.sum() / real.sum() - 0.15) < 0.04  # ~2.5k real tokens
    assert (ids[selected & (ids != labels)] >= MASK_ID).all()
    assert 0.6 < (ids[selected] == MASK_ID).mean() < 0.95


def test_masked_lm_buckets_pad_ids_and_labels_alike(corpus, tokenizer):
    # Each example is [CLS] tokens[:T-2] [SEP]; its length, from the tokenizer alone, says
    # which bucket it must land in: 106 of these 160 lines fit in 16, 54 need T = 24.
    lengths = np.array([min(len(ids), T - 2) + 2 for ids in tokenizer.tokenize(corpus).to_list()])
    expected_rows = {16: int((lengths <= 16).sum()), T: int((lengths > 16).sum())}
    assert expected_rows[16] >= B and expected_rows[T] >= B  # both widths must occur
    dataset = pipeline_text.masked_lm_dataset(corpus, tokenizer, batch_size=B, sequence_length=T,
                                         buckets=[16])
    rows = dict.fromkeys(expected_rows, 0)
    for inputs, labels in batches(dataset):
        ids = inputs["token_ids"]
        longest = int((ids != 0).sum(axis=1).max())
        # Padded to the smallest bucket that fits the longest row, ids and labels alike.
        assert ids.shape == labels.shape == (ids.shape[0], 16 if longest <= 16 else T)
        assert not labels[ids == 0].any()  # no label on padding
        rows[ids.shape[1]] += ids.shape[0]
    assert rows == expected_rows


# ------------------------------------------------------------------------------- images
@pytest.fixture(scope="module")
def shapes():
    paths, labels, names = list_images(os.path.join(DATA, "shapes"))
    return paths[::25], labels[::25], names  # 30 images, 10 per class


def test_image_batches_have_the_documented_structure(shapes):
    paths, labels, _ = shapes
    dataset = pipeline_image.image_dataset(paths, labels, image_size=(24, 20), batch_size=8,
                                     drop_remainder=True)
    assert dataset.element_spec == (tf.TensorSpec([8, 24, 20, 3], tf.float32),
                                    tf.TensorSpec([8], tf.int32))
    images, found_labels = batches(dataset)[0]
    assert 0 <= images.min() and images.max() <= 255 and images.max() > 1
    np.testing.assert_array_equal(found_labels, labels[:8])
    grey = pipeline_image.image_dataset(paths[:2], labels[:2], image_size=(8, 8), batch_size=2,
                                  channels=1)
    assert grey.element_spec[0].shape[1:] == (8, 8, 1)


def test_image_augmentation_is_reproducible_and_mixing_makes_soft_labels(shapes):
    paths, labels, names = shapes
    config = ImageAugmentConfig(flip_rate=0.5, rotation=0.05, crop_padding=2, contrast=0.2,
                                mixup_alpha=0.4, cutmix_alpha=1.0)
    options = dict(image_size=(16, 16), batch_size=8, shuffle=True, seed=2, augment=config)
    first = batches(pipeline_image.image_dataset(paths, labels, **options))
    assert_same_batches(first, batches(pipeline_image.image_dataset(paths, labels, **options)))
    images, soft = first[0]
    assert images.dtype == np.float32 and soft.shape == (8, len(names))
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    assert (soft.max(axis=1) < 1).any()  # mixed


def test_image_augment_takes_any_image_seed_function(shapes):
    paths, labels, _ = shapes
    options = dict(image_size=(16, 16), batch_size=8)
    flipped = batches(pipeline_image.image_dataset(
        paths, labels, augment=lambda image, seed: tf.reverse(image, [1]), **options))
    plain = batches(pipeline_image.image_dataset(paths, labels, **options))
    np.testing.assert_array_equal(flipped[0][0], plain[0][0][:, :, ::-1])


# -------------------------------------------------------------------------- translation
def test_translation_augments_sources_only_and_reproducibly():
    pairs = list(read_pairs(os.path.join(DATA, "dates.tsv")))[:64]
    source = learn_tokenizer("char", [s for s, _ in pairs])
    target = learn_tokenizer("char", [t for _, t in pairs])
    options = dict(batch_size=B, source_length=40, target_length=12)
    plain = batches(pipeline_translate.translation_dataset(pairs, source, target, **options))
    noisy_dataset = pipeline_translate.translation_dataset(
        pairs, source, target, augment={"delete_rate": 0.2, "substitute_rate": 0.1}, **options)
    noisy = batches(noisy_dataset)
    assert_same_batches(noisy, batches(noisy_dataset))  # unshuffled: the same each epoch
    (plain_source, plain_inputs), plain_targets = plain[0]
    (noisy_source, noisy_inputs), noisy_targets = noisy[0]
    assert noisy_source.shape == plain_source.shape and noisy_source.dtype == np.int32
    np.testing.assert_array_equal(noisy_inputs, plain_inputs)  # same order, targets intact
    np.testing.assert_array_equal(noisy_targets, plain_targets)
    assert (noisy_source != 0).sum() < 0.9 * (plain_source != 0).sum()


def token_batch_setup():
    pairs = list(read_pairs(os.path.join(DATA, "dates.tsv")))[:300]
    source = learn_tokenizer("char", [s for s, _ in pairs])
    target = learn_tokenizer("char", [t for _, t in pairs])
    return pairs, source, target


def test_token_batches_group_by_length_hold_the_token_budget_and_shift_targets():
    pairs, source, target = token_batch_setup()
    options = dict(batch_tokens=256, source_length=40, target_length=12, seed=3)
    dataset = pipeline_translate.translation_token_batches(pairs, source, target, **options)
    per_epoch = pipeline_translate.token_batches_per_epoch(
        [max(len(s), len(t) + 1) for s, t in pairs], 40, 256)
    seen = batches(dataset.take(3 * per_epoch))
    for (source_ids, decoder_inputs), decoder_targets in seen:
        padded = source_ids.shape[1]
        assert padded % pipeline_translate.BUCKET_STEP == 0 and padded <= 48
        assert source_ids.shape[0] == 256 // padded  # the bucket's batch size, all rows full
        assert decoder_inputs.shape == decoder_targets.shape == (256 // padded, padded)
        assert source_ids.dtype == decoder_inputs.dtype == np.int32
        assert (decoder_inputs[:, 0] == START_ID).all()
        np.testing.assert_array_equal(decoder_inputs[:, 1:], np.where(
            decoder_targets[:, :-1] == END_ID, 0, decoder_targets[:, :-1]))
        # Short of the next bucket down: the batch's longest example needed this one.
        longest = max((source_ids != 0).sum(1).max(), (decoder_inputs != 0).sum(1).max())
        assert padded - pipeline_translate.BUCKET_STEP < longest <= padded
    # Three passes' worth of batches hold about three passes of the examples.
    rows = sum(batch[0][0].shape[0] for batch in seen)
    assert abs(rows - 3 * len(pairs)) < 0.1 * 3 * len(pairs)
    again = batches(pipeline_translate.translation_token_batches(pairs, source, target, **options)
                    .take(3))
    assert_same_batches(again, seen[:3])  # seeded: the same stream


def test_token_buckets_give_long_batches_fewer_rows():
    boundaries, sizes = pipeline_translate.token_buckets(30, 240)
    assert boundaries == [9, 17, 25, 33] and sizes == [30, 15, 10, 7, 1]
    assert pipeline_translate.token_batches_per_epoch([5] * 60 + [20] * 20, 30, 240) == 4


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("build, message", [
    (lambda r, t, l: classification([("text", "unknown")], t, l),
     r"example 0: label 'unknown' is not one of the known labels \(negative, neutral"),
    (lambda r, t, l: classification(r, t, l, seed=1.5), r"seed=1\.5: expected an integer"),
    (lambda r, t, l: classification(r, t, l, batch_size=0), r"batch_size=0: expected an int"),
    (lambda r, t, l: classification(r, t, l, sequence_length=2), r"sequence_length=2: "
                                                                 r"expected an int >= 3"),
    (lambda r, t, l: classification(r, t, l, cache=1), r"cache=1: expected True"),
    (lambda r, t, l: classification(r, t, l, buckets=[0]), r"buckets=\[0\]: expected"),
    (lambda r, t, l: pipeline_text.masked_lm_dataset(["a"], t, batch_size=2, sequence_length=8,
                                                mask_rate=2), r"mask_rate=2: expected"),
    (lambda r, t, l: pipeline_image.image_dataset(["a.png"], [], image_size=(4, 4), batch_size=1),
     r"got 1 image paths and 0 labels"),
])
def test_bad_arguments_are_named(build, message, reviews, tokenizer, label_ids):
    with pytest.raises(TfbigError, match=message):
        build(reviews, tokenizer, label_ids)


# --------------------------------------------------------------------------------- tfds
def test_load_tfds_explains_a_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails
    with pytest.raises(TfbigError, match=r"needs the tensorflow_datasets package, which is "
                                         r"not installed; run: pip install 'tfbig\[tfds\]'"):
        load_tfds("mnist", "train")


def test_load_tfds_turns_a_failed_load_into_one_line(monkeypatch):
    def offline_load(name, **kwargs):
        raise ConnectionError("Failed to connect to storage.googleapis.com\nmore detail")

    monkeypatch.setitem(sys.modules, "tensorflow_datasets",
                        types.SimpleNamespace(load=offline_load))
    with pytest.raises(TfbigError, match=r"^cannot load TFDS dataset 'mnist' split 'train': "
                                         r"Failed to connect to storage\.googleapis\.com; if "
                                         r"it is not prepared here, pass download=True") as info:
        load_tfds("mnist", "train")
    assert "\n" not in str(info.value)
    loaded = types.SimpleNamespace(load=lambda name, **kwargs: (name, kwargs["split"]))
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", loaded)
    assert load_tfds("mnist", "test") == ("mnist", "test")
