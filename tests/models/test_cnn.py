"""The convolutional models: TextCNN ignores padding; ImageCNN rescales 0..255 inside."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from models.model_checks import (  # noqa: E402
    assert_config_round_trip, assert_fit_decreases, assert_save_load, outputs_of)

from tfbig.models import ImageCNN, TextCNN  # noqa: E402

TOKENS = np.array([[5, 6, 7, 8, 0, 0],
                   [9, 10, 11, 12, 13, 14],
                   [15, 0, 0, 0, 0, 0]], "int32")  # one sentence shorter than every kernel
INPUTS = {"token_ids": TOKENS, "padding_mask": TOKENS != 0}
LABELS = np.array([0, 1, 2])


@pytest.fixture(scope="module")
def text_cnn():
    keras.utils.set_random_seed(9)
    model = TextCNN(20, num_classes=3, embedding_dim=8, filters=4, kernel_sizes=(2, 3, 5),
                    dropout=0.0)
    model(INPUTS)
    return model


def test_text_cnn_ignores_padding(text_cnn):
    logits = outputs_of(text_cnn, INPUTS)
    assert logits.shape == (3, 3) and logits.dtype == np.float32
    more = {key: np.pad(value, ((0, 0), (0, 5))) for key, value in INPUTS.items()}
    np.testing.assert_allclose(outputs_of(text_cnn, more), logits, atol=1e-5)
    # The padding mask decides what is real: cutting it short changes the logits.
    short = dict(INPUTS, padding_mask=INPUTS["padding_mask"] & (np.arange(6) < 2))
    assert not np.allclose(outputs_of(text_cnn, short)[1], logits[1])


def test_text_cnn_saves_and_trains(text_cnn, tmp_path):
    assert_config_round_trip(text_cnn)
    assert text_cnn.get_config()["kernel_sizes"] == [2, 3, 5]
    assert_save_load(text_cnn, INPUTS, tmp_path)
    assert_fit_decreases(text_cnn, INPUTS, LABELS)


def test_image_cnn_rescales_saves_and_trains(tmp_path):
    keras.utils.set_random_seed(10)
    images = np.random.default_rng(0).uniform(0, 255, (3, 12, 12, 1)).astype("float32")
    model = ImageCNN(num_classes=3, image_size=12, channels=1, filters=(4, 8), dropout=0.0)
    logits = outputs_of(model, images)
    assert logits.shape == (3, 3)
    assert model.rescaling.scale == pytest.approx(1 / 255)
    assert [w.path.split("/", 1)[1] for w in model.weights if "batch_norm_0" in w.path] == [
        "batch_norm_0/gamma", "batch_norm_0/beta", "batch_norm_0/moving_mean",
        "batch_norm_0/moving_variance"]
    assert_config_round_trip(model)
    assert_save_load(model, images, tmp_path)
    assert_fit_decreases(model, images, LABELS)


def test_image_cnn_batch_norm_momentum():
    # 0.9 by default: the moving statistics must settle within a short run's few hundred steps.
    model = ImageCNN(num_classes=3, image_size=8, filters=(4, 8))
    assert [norm.momentum for norm in model.batch_norms] == [0.9, 0.9]
    slow = ImageCNN.from_config({**model.get_config(), "batch_norm_momentum": 0.99})
    assert [norm.momentum for norm in slow.batch_norms] == [0.99, 0.99]
    assert slow.get_config()["batch_norm_momentum"] == 0.99
