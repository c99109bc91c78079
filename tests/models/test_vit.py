"""ViT: patches + class token, pre-norm encoder, saving and training."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from models.model_checks import (  # noqa: E402
    assert_config_round_trip, assert_fit_decreases, assert_save_load, outputs_of)

from tfbig.models import ViT  # noqa: E402

IMAGES = np.random.default_rng(0).uniform(0, 255, (3, 8, 12, 3)).astype("float32")
LABELS = np.array([0, 1, 2])


def test_vit_patches_saves_and_trains(tmp_path):
    keras.utils.set_random_seed(11)
    model = ViT(num_classes=3, image_size=(8, 12), patch_size=4, num_layers=1, num_heads=2,
                hidden_dim=8, intermediate_dim=16, dropout=0.0)
    logits = outputs_of(model, IMAGES)
    assert logits.shape == (3, 3) and logits.dtype == np.float32
    np.testing.assert_array_equal(logits, 0.0)  # zero head: every image starts at chance
    # A random head, so that the save/load comparison below sees image-dependent logits.
    model.classifier.kernel.assign(np.random.default_rng(1).normal(size=(8, 3)))
    logits = outputs_of(model, IMAGES)
    assert np.ptp(logits, axis=0).min() > 1e-3
    # (8/4) * (12/4) = 6 patches + the class token.
    patches = model.patch_embedding(model.rescaling(IMAGES))
    assert tuple(patches.shape) == (3, 7, 8)
    assert tuple(model.patch_embedding.position_embedding.shape) == (1, 7, 8)
    assert all(block.norm_first and block.activation == "gelu" for block in model.blocks)
    assert_config_round_trip(model)
    assert_save_load(model, IMAGES, tmp_path)
    assert_fit_decreases(model, IMAGES, LABELS, learning_rate=3e-3)


def test_pixels_are_centred_to_minus_one_one():
    model = ViT(3, 8, 4, 1, 2, 8, 16)
    pixels = np.array([0.0, 127.5, 255.0], "float32")
    np.testing.assert_allclose(model.rescaling(pixels), [-1.0, 0.0, 1.0])


def test_patch_size_must_divide_the_image():
    with pytest.raises(ValueError, match=r"image_size 10 must be divisible by patch_size \(4\)"):
        ViT(3, 10, 4, 1, 2, 8, 16)
