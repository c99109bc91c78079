"""The audio models: AudioCNN and AudioTransformer on log-mel spectrograms; saving, training,
and the CNN learning the shipped spoken words."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from models.model_checks import (  # noqa: E402
    assert_config_round_trip, assert_fit_decreases, assert_save_load, outputs_of)

from tfbig.errors import TfbigError  # noqa: E402
from tfbig.models import AudioCNN, AudioTransformer  # noqa: E402

SPECTROGRAMS = np.random.default_rng(0).normal(size=(3, 10, 8)).astype("float32")  # (B, T, M)
LABELS = np.array([0, 1, 2])
AUDIO = Path(__file__).resolve().parents[2] / "data" / "audio"


def test_audio_cnn_saves_and_trains(tmp_path):
    keras.utils.set_random_seed(12)
    model = AudioCNN(num_classes=3, num_mels=8, filters=(4, 8), dropout=0.0)
    logits = outputs_of(model, SPECTROGRAMS)
    assert logits.shape == (3, 3) and logits.dtype == np.float32
    # Pooled over time only: 8 bands → 2 after two stages, × 8 filters into the classifier.
    assert tuple(model.classifier.kernel.shape) == (2 * 8, 3)
    longer = outputs_of(model, np.concatenate([SPECTROGRAMS] * 3, axis=1))  # any frames
    assert longer.shape == (3, 3)
    assert_config_round_trip(model)
    assert model.get_config()["filters"] == [4, 8]
    assert_save_load(model, SPECTROGRAMS, tmp_path)
    assert_fit_decreases(model, SPECTROGRAMS, LABELS)


def test_audio_transformer_saves_and_trains(tmp_path):
    keras.utils.set_random_seed(13)
    model = AudioTransformer(num_classes=3, num_frames=10, num_mels=8, patch_size=4,
                             num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
                             dropout=0.0)
    logits = outputs_of(model, SPECTROGRAMS)
    assert logits.shape == (3, 3) and logits.dtype == np.float32
    np.testing.assert_array_equal(logits, 0.0)  # zero head, as ViT's
    model.classifier.kernel.assign(np.random.default_rng(1).normal(size=(8, 3)))
    assert np.ptp(outputs_of(model, SPECTROGRAMS), axis=0).min() > 1e-3
    # 10 frames are padded to 12: (12/4) · (8/4) = 6 patches, plus the class token.
    assert model.padded_size == (12, 8) and model.patch_embedding.num_patches == 6
    assert tuple(model.patch_embedding.position_embedding.shape) == (1, 7, 8)
    assert all(block.norm_first and block.activation == "gelu" for block in model.blocks)
    assert_config_round_trip(model)
    assert_save_load(model, SPECTROGRAMS, tmp_path)
    assert_fit_decreases(model, SPECTROGRAMS, LABELS, learning_rate=3e-3)


def test_audio_transformer_argument_errors():
    with pytest.raises(TfbigError, match=r"hidden_dim \(10\) must be divisible by num_heads"):
        AudioTransformer(3, 10, 8, 4, 1, 3, 10, 16)
    with pytest.raises(TfbigError, match=r"num_frames must be a positive integer, received 0"):
        AudioTransformer(3, 0, 8, 4, 1, 2, 8, 16)
