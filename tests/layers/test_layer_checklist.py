"""Every layer tfbig exports passes ``run_layer_test`` (config round trip, eager ==
``tf.function`` with unknown sizes, ``.keras`` reload in safe mode, one ``fit`` step).

The layers without a test file of their own are checked here; :data:`CHECKED_IN` names
where each of the others is, and a test keeps that list complete.
"""

import inspect
import pathlib

import keras
import numpy as np
import pytest
from helpers import run_layer_test
from keras import ops

import tfbig.layers
from tfbig.layers import (BertEmbedding, CausalBlock, Dropout, FeedForward, PatchEmbedding,
                          masks)

D_MODEL, HEADS, DFF = 8, 2, 16
RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 4, D_MODEL)).astype("float32")
IDS = np.array([[4, 7, 5, 9], [6, 3, 0, 0]], "int32")
SEGMENTS = np.array([[0, 0, 1, 1], [0, 1, 1, 0]], "int32")
IMAGES = RNG.uniform(size=(2, 8, 12, 3)).astype("float32")
CAUSAL_MASK = ops.convert_to_numpy(masks.decoder_self_attention_mask(IDS))  # (B, T, T)

# Where each exported layer goes through run_layer_test.
CHECKED_IN = {
    "MultiHeadAttention": "test_multi_head_attention.py",
    "PositionalEmbedding": "test_positional_encoding.py",
    "EncoderBlock": "test_blocks.py",
    "DecoderBlock": "test_blocks.py",
    "Encoder": "test_blocks.py",
    "Decoder": "test_blocks.py",
    "FeedForward": "test_layer_checklist.py",
    "Dropout": "test_layer_checklist.py",
    "CausalBlock": "test_layer_checklist.py",
    "BertEmbedding": "test_layer_checklist.py",
    "PatchEmbedding": "test_layer_checklist.py",
}


def test_every_exported_layer_is_checked():
    exported = {name for name in tfbig.layers.__all__
                if inspect.isclass(getattr(tfbig.layers, name))
                and issubclass(getattr(tfbig.layers, name), keras.layers.Layer)}
    assert exported == set(CHECKED_IN)
    here = pathlib.Path(__file__).parent
    for name, file in CHECKED_IN.items():
        text = (here / file).read_text(encoding="utf-8")
        assert "run_layer_test" in text and f"{name}(" in text, (name, file)


def test_feed_forward(tmp_path):
    run_layer_test(lambda: FeedForward(D_MODEL, DFF, activation="gelu"), (X,),
                   expected_output_shape=X.shape, tmp_dir=tmp_path)


def test_dropout(tmp_path):
    # Inference is the identity; the fit step trains through the random mask.
    output = run_layer_test(lambda: Dropout(0.3, seed=1), (X,), expected_output_shape=X.shape,
                            tmp_dir=tmp_path)
    np.testing.assert_array_equal(output, X)


def test_causal_block(tmp_path):
    run_layer_test(
        lambda: CausalBlock(D_MODEL, HEADS, DFF, dropout_rate=0.1, activation="gelu",
                            norm_first=True),
        (X,), call_kwargs={"attention_mask": CAUSAL_MASK}, expected_output_shape=X.shape,
        tmp_dir=tmp_path)


def test_bert_embedding(tmp_path):
    run_layer_test(
        lambda: BertEmbedding(vocabulary_size=12, hidden_dim=D_MODEL, max_sequence_length=8),
        (IDS,), call_kwargs={"segment_ids": SEGMENTS}, expected_output_shape=(2, 4, D_MODEL),
        tmp_dir=tmp_path)


@pytest.mark.parametrize("image_size", [(8, 12)], ids=["rectangle"])
def test_patch_embedding(image_size, tmp_path):
    run_layer_test(
        lambda: PatchEmbedding(image_size=image_size, patch_size=4, hidden_dim=D_MODEL),
        (IMAGES,), expected_output_shape=(2, 1 + 2 * 3, D_MODEL), tmp_dir=tmp_path)
