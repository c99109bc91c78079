"""Encoder/decoder blocks and stacks: Keras checklist, post- vs pre-norm, size checks."""

import keras
import numpy as np
import pytest
from helpers import run_layer_test
from keras import ops

from tfbig.errors import TfbigError
from tfbig.layers import Decoder, DecoderBlock, Encoder, EncoderBlock, masks
from tfbig.models import Transformer

D_MODEL, HEADS, DFF = 8, 2, 16
RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 4, D_MODEL)).astype("float32")  # decoder side, T_t = 4
MEMORY = RNG.normal(size=(2, 3, D_MODEL)).astype("float32")  # encoder output, T_s = 3
SOURCE_IDS = np.array([[5, 6, 7], [8, 9, 0]], "int32")
TARGET_IDS = np.array([[2, 5, 6, 7], [2, 8, 0, 0]], "int32")
SOURCE_MASK = ops.convert_to_numpy(masks.key_padding_mask(SOURCE_IDS))  # (B, 1, T_s)
TARGET_MASK = ops.convert_to_numpy(masks.decoder_self_attention_mask(TARGET_IDS))


def numpy_of(x):
    return ops.convert_to_numpy(x)


# One variant per layer keeps the suite fast: the stacks below use post-norm blocks, the
# single blocks pre-norm, so both orders go through run_layer_test.

def test_encoder_block(tmp_path):
    run_layer_test(
        lambda: EncoderBlock(D_MODEL, HEADS, DFF, dropout_rate=0.1, norm_first=True,
                             activation="gelu"),
        (MEMORY,), call_kwargs={"attention_mask": SOURCE_MASK},
        expected_output_shape=MEMORY.shape, tmp_dir=tmp_path)


def test_decoder_block(tmp_path):
    run_layer_test(
        lambda: DecoderBlock(D_MODEL, HEADS, DFF, dropout_rate=0.1, norm_first=True),
        (X, MEMORY), call_kwargs={"self_attention_mask": TARGET_MASK,
                                  "cross_attention_mask": SOURCE_MASK},
        expected_output_shape=X.shape, tmp_dir=tmp_path)


def test_encoder(tmp_path):
    run_layer_test(
        lambda: Encoder(2, D_MODEL, HEADS, DFF, vocabulary_size=12, max_length=8),
        (SOURCE_IDS,), expected_output_shape=(2, 3, D_MODEL), tmp_dir=tmp_path)


def test_pre_norm_encoder_with_learned_positions_has_a_final_norm():
    encoder = Encoder(1, D_MODEL, HEADS, DFF, vocabulary_size=12, max_length=8,
                      positional="learned", norm_first=True)
    output = numpy_of(encoder(SOURCE_IDS))
    assert output.shape == (2, 3, D_MODEL)
    assert encoder.final_norm is not None
    np.testing.assert_allclose(output.mean(-1), 0.0, atol=1e-5)  # ends layer-normed
    clone = Encoder.from_config(encoder.get_config())
    assert clone.get_config() == encoder.get_config()


def test_decoder(tmp_path):
    run_layer_test(
        lambda: Decoder(2, D_MODEL, HEADS, DFF, vocabulary_size=12, max_length=8),
        (TARGET_IDS, MEMORY), call_kwargs={"cross_attention_mask": SOURCE_MASK},
        expected_output_shape=(2, 4, D_MODEL), tmp_dir=tmp_path)


# Keras matches a multi-argument build() to call() by name (<arg>_shape): these failed while
# DecoderBlock/Decoder.build named their first argument input_shape.
@pytest.mark.parametrize("make_layer,inputs", [
    (lambda: DecoderBlock(D_MODEL, HEADS, DFF), (X, MEMORY)),
    (lambda: Decoder(1, D_MODEL, HEADS, DFF, vocabulary_size=12), (TARGET_IDS, MEMORY)),
], ids=["DecoderBlock", "Decoder"])
def test_unbuilt_decoder_layers_can_be_called(make_layer, inputs):
    output = make_layer()(*inputs)
    assert tuple(output.shape) == inputs[0].shape[:2] + (D_MODEL,)


def test_built_decoder_block_in_a_functional_model():
    block = DecoderBlock(D_MODEL, HEADS, DFF)
    block.build(X.shape, MEMORY.shape)
    output = block(keras.Input((4, D_MODEL)), keras.Input((3, D_MODEL)))
    assert tuple(output.shape) == (None, 4, D_MODEL)


def test_block_attention_scores():
    encoder_block = EncoderBlock(D_MODEL, HEADS, DFF)
    _, weights = encoder_block(MEMORY, attention_mask=SOURCE_MASK, return_attention_scores=True)
    assert tuple(weights.shape) == (2, HEADS, 3, 3)
    np.testing.assert_array_equal(numpy_of(weights)[1, :, :, 2], 0.0)  # padded key

    decoder_block = DecoderBlock(D_MODEL, HEADS, DFF)
    decoder_block.build(X.shape, MEMORY.shape)
    _, weights = decoder_block(X, MEMORY, self_attention_mask=TARGET_MASK,
                               cross_attention_mask=SOURCE_MASK, return_attention_scores=True)
    assert tuple(weights["self"].shape) == (2, HEADS, 4, 4)
    assert tuple(weights["cross"].shape) == (2, HEADS, 4, 3)
    future = np.triu(np.ones((4, 4), bool), k=1)
    np.testing.assert_array_equal(numpy_of(weights["self"])[:, :, future], 0.0)  # causal


def test_encoder_padded_positions_do_not_leak():
    encoder = Encoder(2, D_MODEL, HEADS, DFF, vocabulary_size=12, dropout_rate=0.0)
    short = numpy_of(encoder(np.array([[5, 6, 7, 0, 0]])))
    other_padding = numpy_of(encoder(np.array([[5, 6, 7, 0, 0, 0, 0]])))
    np.testing.assert_allclose(other_padding[:, :3], short[:, :3], atol=1e-5)


def test_post_norm_and_pre_norm_differ_with_the_same_weights():
    post = EncoderBlock(D_MODEL, HEADS, DFF, dropout_rate=0.0, norm_first=False)
    pre = EncoderBlock(D_MODEL, HEADS, DFF, dropout_rate=0.0, norm_first=True)
    post_output = numpy_of(post(MEMORY))
    pre(MEMORY)
    pre.set_weights(post.get_weights())
    pre_output = numpy_of(pre(MEMORY))
    assert not np.allclose(post_output, pre_output, atol=1e-3)
    # Post-norm outputs are layer-normed (gamma=1, beta=0 at init); pre-norm outputs are not.
    np.testing.assert_allclose(post_output.mean(-1), 0.0, atol=1e-5)
    assert np.abs(pre_output.mean(-1)).max() > 1e-3


@pytest.mark.parametrize("make", [
    lambda: EncoderBlock(10, 3, 16),
    lambda: DecoderBlock(10, 3, 16),
    lambda: Encoder(1, 10, 3, 16, vocabulary_size=12),
    lambda: Decoder(1, 10, 3, 16, vocabulary_size=12),
    lambda: Transformer(1, 10, 3, 16, input_vocab_size=12, target_vocab_size=12),
], ids=["EncoderBlock", "DecoderBlock", "Encoder", "Decoder", "Transformer"])
def test_d_model_must_be_divisible_by_num_heads(make):
    with pytest.raises(TfbigError, match=r"d_model \(10\) must be divisible by num_heads \(3\)"):
        make()


def test_encoder_block_symbolic_call_returns_attention_scores():
    output, weights = EncoderBlock(D_MODEL, HEADS, DFF)(keras.Input((3, D_MODEL)),
                                                        return_attention_scores=True)
    assert tuple(weights.shape) == (None, HEADS, 3, 3)
