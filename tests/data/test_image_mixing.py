"""MixUp and CutMix in the image pipeline and the image task's datasets: mixed training
batches carry soft labels whose weights are the pixel mix, reproducibly from the seed;
evaluation batches are never mixed (one-hot labels when the run mixes, ids otherwise).

The images are noise (``tasks.test_image.write_toy_images``), so no two pixels of two
images coincide and a pasted box shows exactly where the images differ.
"""

import numpy as np
import pytest
from tasks.test_image import COLOURS, write_toy_images

from tfbig.data.augment_image import ImageAugmentConfig
from tfbig.data.pipeline_image import image_dataset
from tfbig.data.sources import list_images
from tfbig.errors import TfbigError
from tfbig.tasks import get_task, resolve_config

K = len(COLOURS)
OPTIONS = dict(image_size=(10, 10), batch_size=6, shuffle=True, seed=3, num_classes=K)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_toy_images(tmp_path_factory.mktemp("data") / "noise", per_class=6, size=10)


@pytest.fixture(scope="module")
def images(folder):
    paths, labels, _ = list_images(folder)
    return paths, labels


def batches(dataset):
    return list(dataset.as_numpy_iterator())


def plain_and_mixed(images, **mixing):
    """The same shuffled stream unmixed (``augment=None``) and mixed by ``mixing``."""
    paths, labels = images
    plain = batches(image_dataset(paths, labels, **OPTIONS))
    mixed = batches(image_dataset(paths, labels, augment=ImageAugmentConfig(**mixing),
                                  **OPTIONS))
    assert len(plain) == len(mixed) == 3
    return plain, mixed


def test_mix_up_labels_are_the_weights_of_the_pixel_mix(images):
    plain, mixed = plain_and_mixed(images, mixup_alpha=0.4)
    for (x, ids), (m, soft) in zip(plain, mixed):
        assert ids.dtype == np.int32 and soft.dtype == np.float32 and soft.shape == (6, K)
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
        one_hot = np.eye(K, dtype=np.float32)[ids]
        for i in range(len(x)):
            # The partner j and weight λ with m_i = λ·x_i + (1 - λ)·x_j (least squares).
            fits = []
            for j in range(len(x)):
                step = (x[i] - x[j]).ravel()
                weight = (1.0 if j == i else
                          float(np.dot((m[i] - x[j]).ravel(), step) / np.dot(step, step)))
                residual = np.abs(weight * x[i] + (1 - weight) * x[j] - m[i]).max()
                fits.append((residual, j, weight))
            residual, j, weight = min(fits)
            assert residual < 1e-3, (i, fits)  # pixels are 0..255: exact up to float32
            np.testing.assert_allclose(
                soft[i], weight * one_hot[i] + (1 - weight) * one_hot[j], atol=1e-5)
    assert (np.concatenate([soft for _, soft in mixed]).max(axis=1) < 0.9).any()  # mixed


def test_cut_mix_label_weight_is_the_pasted_area(images):
    plain, mixed = plain_and_mixed(images, cutmix_alpha=1.0)
    pasted_fractions = []
    for (x, ids), (m, soft) in zip(plain, mixed):
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
        one_hot = np.eye(K, dtype=np.float32)[ids]
        for i in range(len(x)):
            changed = (m[i] != x[i]).any(axis=-1)  # [H, W]
            fraction = changed.mean()
            pasted_fractions.append(fraction)
            if not changed.any():  # an empty box, or the example's own image pasted
                np.testing.assert_array_equal(soft[i], one_hot[i])
                continue
            rows, columns = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(0))[0]
            assert changed.sum() == len(rows) * len(columns)  # one rectangle
            partners = [j for j in range(len(x)) if (m[i][changed] == x[j][changed]).all()]
            assert len(partners) == 1, i
            np.testing.assert_allclose(
                soft[i], (1 - fraction) * one_hot[i] + fraction * one_hot[partners[0]],
                atol=1e-6)
    assert 0.2 < np.mean(pasted_fractions) < 0.8  # λ ~ Beta(1, 1): half the area on average


def test_mixing_is_reproducible_from_the_seed(images):
    paths, labels = images
    config = ImageAugmentConfig(flip_rate=0.5, mixup_alpha=0.4, cutmix_alpha=1.0)
    first = batches(image_dataset(paths, labels, augment=config, **OPTIONS))
    again = batches(image_dataset(paths, labels, augment=config, **OPTIONS))
    other = batches(image_dataset(paths, labels, augment=config, **{**OPTIONS, "seed": 4}))
    for (a, a_soft), (b, b_soft) in zip(first, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a_soft, b_soft)
    assert not all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, other))


def test_one_hot_only_changes_the_labels_and_no_mixing_keeps_ids(images):
    paths, labels = images
    config = ImageAugmentConfig(flip_rate=0.5)  # no mixing: ids, as before mixing existed
    ids = batches(image_dataset(paths, labels, augment=config, **OPTIONS))
    rows = batches(image_dataset(paths, labels, augment=config, one_hot=True, **OPTIONS))
    for (x, y), (x_rows, y_rows) in zip(ids, rows):
        assert y.dtype == np.int32 and y.shape == (6,)
        np.testing.assert_array_equal(x, x_rows)
        np.testing.assert_array_equal(y_rows, np.eye(K, dtype=np.float32)[y])
    with pytest.raises(TfbigError, match=r"labels run from 0 to 2; one-hot rows need ids in "
                                         r"\[0, num_classes=2\)"):
        image_dataset(paths, labels, image_size=(4, 4), batch_size=2, num_classes=2,
                      one_hot=True)


def task_for(folder, augment, **overrides):
    task = get_task(resolve_config({"task": "image", "model.name": "cnn", "data.path": folder,
                                    "data.image_size": 10, "train.batch_size": 6,
                                    "data.augment": augment, **overrides}))
    task.check_augment()
    return task


def test_the_tasks_evaluation_batches_are_never_mixed(folder):
    mixing = task_for(folder, {"mixup_alpha": 0.4, "cutmix_alpha": 1.0})
    plain = task_for(folder, {})
    examples = plain.read_examples(folder)
    for task in (mixing, plain):
        task.learn_assets(examples)
    evaluated = batches(mixing.dataset(examples, training=False))
    for (x, rows), (x_plain, ids) in zip(evaluated, batches(plain.dataset(examples,
                                                                          training=False))):
        np.testing.assert_array_equal(x, x_plain)  # same images, same order: unmixed
        assert ids.dtype == np.int32
        np.testing.assert_array_equal(rows, np.eye(K, dtype=np.float32)[ids])
    x, soft = batches(mixing.dataset(examples, training=True))[0]
    assert soft.shape == (6, K) and (soft.max(axis=1) < 0.99).any()  # training mixes
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
