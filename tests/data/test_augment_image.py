"""Tests of tfbig.data.augment_image: NumPy references, determinism, eager = tf.data, and
the fraction of images/pixels each op changes."""

import math

import numpy as np
import pytest
import tensorflow as tf
from helpers import float32_tolerance

from tfbig.data import augment_image as A
from tfbig.errors import TfbigError

SEED = np.array([3, 5])


def random_image(seed=0, size=16, low=0, high=255):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, (size, size, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def image():
    return random_image()


OPS = {
    "flip": lambda x, s: A.random_flip(x, s, mode="horizontal_and_vertical", rate=0.5),
    "rotation": lambda x, s: A.random_rotation(x, s, factor=0.2),
    "zoom": lambda x, s: A.random_zoom(x, s, factor=0.3),
    "crop": lambda x, s: A.random_crop(x, s, padding=4),
    "contrast": lambda x, s: A.random_contrast(x, s, factor=0.5),
}


@pytest.mark.parametrize("name", OPS)
def test_deterministic_eager_equals_tf_data_and_seeds_differ(name, image, eager_and_mapped):
    out = eager_and_mapped(OPS[name], image, SEED)
    assert out.shape == image.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    outputs = [OPS[name](image, [seed, 0]).numpy() for seed in range(6)]
    assert any(not np.array_equal(outputs[0], other) for other in outputs[1:])


def test_flip_matches_numpy_and_happens_at_its_rate(image):
    np.testing.assert_array_equal(A.random_flip(image, SEED, rate=1.0), image[:, ::-1])
    np.testing.assert_array_equal(A.random_flip(image, SEED, mode="vertical", rate=1.0),
                                  image[::-1])
    np.testing.assert_array_equal(A.random_flip(image, SEED, rate=0.0), image)
    flip = tf.function(lambda seed: A.random_flip(image, seed, rate=0.3))  # traced once
    flipped = [not np.array_equal(flip(tf.constant([s, 1])), image) for s in range(200)]
    assert abs(np.mean(flipped) - 0.3) < 0.1  # σ ≈ 0.032


def test_rotation_and_zoom_match_numpy_references(image):
    # float32: the rotated read positions (coordinates ≤ 16 px, cos(π/2) ≈ -4e-8) are good
    # to a few ulps of 16; bilinear reading moves by that × the largest step between
    # neighbouring pixels (255), on each of 2 axes: 2 · 255 · 4 ulps of 16 ≈ 3.9e-3.
    np.testing.assert_allclose(A.rotate(image, math.pi / 2), np.rot90(image),
                               atol=2 * 255 * float32_tolerance(magnitude=16))
    np.testing.assert_allclose(A.zoom(image, 1.0), image, atol=1e-3)
    np.testing.assert_allclose(A.random_rotation(image, SEED, factor=0.0), image, atol=1e-3)
    # zoom 2x about the centre of a 16x16 image: output pixel 4 reads input pixel 5.75
    zoomed = A.zoom(image, 2.0).numpy()
    np.testing.assert_allclose(zoomed[4, 4], 0.0625 * image[5, 5] + 0.1875 * image[5, 6]
                               + 0.1875 * image[6, 5] + 0.5625 * image[6, 6], atol=1e-2)


def test_crop_is_a_shift_of_the_reflect_padded_image(image):
    padded = np.pad(image, [(4, 4), (4, 4), (0, 0)], mode="reflect")
    for seed in range(5):
        out = A.random_crop(image, [seed, 0], padding=4).numpy()
        assert any(np.array_equal(out, padded[dy:dy + 16, dx:dx + 16])
                   for dy in range(9) for dx in range(9))
    np.testing.assert_array_equal(A.random_crop(image, SEED, padding=0), image)


def test_contrast_scales_each_channels_spread_within_the_factor():
    image = random_image(low=96, high=160)  # no clipping at 1 ± 0.5
    for seed in range(5):
        out = A.random_contrast(image, [seed, 0], factor=0.5).numpy()
        np.testing.assert_allclose(out.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=1e-2)
        ratio = out.std(axis=(0, 1)) / image.std(axis=(0, 1))
        assert np.allclose(ratio, ratio[0], atol=1e-3) and 0.5 <= ratio[0] <= 1.5


def blob_image(size=32, offset=(0.0, 5.0), sigma=1.2):
    """A dark ``[size, size, 1]`` image with one bright Gaussian blob ``offset`` = (dx, dy)
    pixels from the centre: where the blob ends up tells how the image was moved."""
    centre = (size - 1) / 2
    y, x = np.mgrid[:size, :size]
    blob = np.exp(-((x - centre - offset[0]) ** 2 + (y - centre - offset[1]) ** 2)
                  / (2 * sigma ** 2))
    return (255 * blob)[..., None].astype(np.float32)


def blob_positions(op, image, seeds=300):
    """``(dx, dy)`` of the blob's centroid from the image centre, one row per seed."""
    op = tf.function(op)  # traced once
    centre = (image.shape[0] - 1) / 2
    y, x = np.mgrid[:image.shape[0], :image.shape[1]]
    positions = []
    for seed in range(seeds):
        out = op(image, tf.constant([seed, 7])).numpy()[..., 0]
        out = np.where(out > 0.2 * out.max(), out, 0.0)  # the blob, not the faint tails
        positions.append(((x * out).sum() / out.sum() - centre,
                          (y * out).sum() / out.sum() - centre))
    return np.array(positions)


def test_rotation_angles_are_uniform_over_plus_minus_factor_turns():
    """factor 0.2: angles uniform in ±0.4π (±72°): mean 0, mean |angle| 0.2π, none beyond."""
    image = blob_image()
    dx, dy = blob_positions(lambda x, s: A.random_rotation(x, s, factor=0.2), image).T
    np.testing.assert_allclose(np.hypot(dx, dy), 5.0, atol=0.3)  # turned, not moved
    angles = np.arctan2(dx, dy)  # 0 = where the blob started (straight below the centre)
    assert np.abs(angles).max() <= 0.4 * np.pi + 0.05
    assert abs(angles.mean()) < 0.15  # σ of the mean ≈ 0.042
    assert abs(np.abs(angles).mean() - 0.2 * np.pi) < 0.08  # σ ≈ 0.021
    assert 0.4 < (angles > 0).mean() < 0.6


def test_zoom_scales_are_uniform_over_one_plus_minus_factor():
    """factor 0.3: the blob's distance from the centre is scaled by s ~ U(0.7, 1.3)."""
    image = blob_image(offset=(0.0, 4.0), sigma=1.0)
    dx, dy = blob_positions(lambda x, s: A.random_zoom(x, s, factor=0.3), image).T
    scales = np.hypot(dx, dy) / 4.0
    np.testing.assert_allclose(dx, 0.0, atol=0.05)  # straight out from the centre
    assert scales.min() >= 0.7 - 0.03 and scales.max() <= 1.3 + 0.03
    assert abs(scales.mean() - 1.0) < 0.03  # σ of the mean ≈ 0.01
    assert abs(scales.std() - 0.6 / np.sqrt(12)) < 0.03
    assert 0.4 < (scales > 1).mean() < 0.6


def test_crop_shifts_are_uniform_and_leave_one_image_in_81_unchanged(image):
    """padding 4: the window's offset is uniform over 9 x 9 places, (4, 4) being no change."""
    padded = np.pad(image, [(4, 4), (4, 4), (0, 0)], mode="reflect")
    crop = tf.function(lambda seed: A.random_crop(image, seed, padding=4))
    offsets = []
    for seed in range(810):
        out = crop(tf.constant([seed, 3])).numpy()
        found = [(dy, dx) for dy in range(9) for dx in range(9)
                 if np.array_equal(out, padded[dy:dy + 16, dx:dx + 16])]
        assert len(found) == 1
        offsets.append(found[0])
    offsets = np.array(offsets)
    for axis in range(2):  # 90 expected per value; σ ≈ 9
        counts = np.bincount(offsets[:, axis], minlength=9)
        assert counts.min() > 55 and counts.max() < 125, counts
    unchanged = np.mean((offsets == 4).all(axis=1))
    assert unchanged < 0.03  # expected 1/81 ≈ 0.012


def test_contrast_factors_are_uniform_over_one_plus_minus_factor():
    image = random_image(low=96, high=160)  # no clipping at 1 ± 0.5
    contrast = tf.function(lambda seed: A.random_contrast(image, seed, factor=0.5))
    ratios = np.array([contrast(tf.constant([seed, 5])).numpy().std() / image.std()
                       for seed in range(300)])
    assert ratios.min() >= 0.5 - 1e-3 and ratios.max() <= 1.5 + 1e-3
    assert abs(ratios.mean() - 1.0) < 0.05  # σ of the mean ≈ 0.017
    assert abs(ratios.std() - 1 / np.sqrt(12)) < 0.04
    assert 0.4 < (ratios > 1).mean() < 0.6


def distinct_batch(size=8):
    images = np.stack([random_image(seed) for seed in range(size)])
    return images, np.arange(size, dtype=np.int32)  # every example its own class


def test_mix_up_mixes_images_and_labels_with_the_same_weights(eager_and_mapped):
    images, labels = distinct_batch()
    mixed, soft = eager_and_mapped(
        lambda x, y, s: A.mix_up(x, y, s, num_classes=8, alpha=0.4), images, labels, SEED)
    assert soft.shape == (8, 8) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
    expected = np.einsum("ij,jhwc->ihwc", soft, images)  # λ·x_i + (1-λ)·x_partner
    np.testing.assert_allclose(mixed, expected, atol=1e-2)
    assert (soft.max(axis=1) < 1).mean() > 0.5  # most examples really are mixed


def test_cut_mix_pastes_a_box_whose_area_gives_the_label_weights(eager_and_mapped):
    images, labels = distinct_batch()
    mixed, soft = eager_and_mapped(
        lambda x, y, s: A.cut_mix(x, y, s, num_classes=8, alpha=1.0), images, labels, SEED)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
    for i in range(8):
        own = (mixed[i] == images[i]).all(axis=-1).mean()  # fraction of pixels kept
        np.testing.assert_allclose(soft[i, i], own, atol=1e-6)
        for j in np.flatnonzero(soft[i] > 0):
            if j != i:
                pasted = (mixed[i] == images[j]).all(axis=-1)
                np.testing.assert_allclose(pasted.mean(), soft[i, j], atol=1e-6)


def test_mix_rate_is_the_fraction_of_examples_mixed():
    images = np.zeros((400, 2, 2, 1), np.float32)
    labels = np.arange(400, dtype=np.int32) % 2
    _, soft = A.mix_up(images, labels, SEED, num_classes=2, alpha=1.0, rate=0.25)
    mixed = (soft.numpy().max(axis=1) < 1).mean()
    assert abs(mixed - 0.25 * (1 - 0.5)) < 0.06  # a partner of the same class looks unmixed


def test_augmenter_and_mixer_follow_the_config(image):
    config = A.ImageAugmentConfig(flip_rate=1.0, mixup_alpha=0.2)
    np.testing.assert_array_equal(A.image_augmenter(config)(image, SEED), image[:, ::-1])
    np.testing.assert_array_equal(A.image_augmenter(A.ImageAugmentConfig())(image, SEED), image)
    assert A.batch_mixer(A.ImageAugmentConfig(), 3) is None
    images, labels = distinct_batch(4)
    _, soft = A.batch_mixer(config, 4)(tf.constant(images), tf.constant(labels), SEED)
    assert soft.shape == (4, 4)


@pytest.mark.parametrize("make, message", [
    (lambda: A.ImageAugmentConfig(flip_mode="sideways"), r"flip_mode='sideways': expected "
                                                         r"one of horizontal, vertical"),
    (lambda: A.ImageAugmentConfig(zoom=1.0), r"zoom=1\.0: expected a number in \[0, 1\)"),
    (lambda: A.ImageAugmentConfig(crop_padding=-1), r"crop_padding=-1: expected an int >= 0"),
    (lambda: A.ImageAugmentConfig(mixup_alpha=-1), r"mixup_alpha=-1: expected a number >= 0"),
    (lambda: A.mix_up(np.zeros((2, 2, 2, 1), np.float32), np.zeros(2, np.int32), SEED,
                      num_classes=2, alpha=0), r"alpha=0: expected a number > 0"),
])
def test_bad_settings_are_named(make, message):
    with pytest.raises(TfbigError, match=message):
        make()
