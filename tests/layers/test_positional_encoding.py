"""Sinusoidal table against the paper's formula; PositionalEmbedding options."""

import math

import keras
import numpy as np
import pytest
from helpers import run_layer_test
from keras import ops

from tfbig.layers import PositionalEmbedding, positional_encoding

IDS = np.array([[5, 6, 7, 8, 0, 0], [9, 4, 3, 2, 1, 7]], "int32")


def paper_table(length, depth):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d))."""
    table = np.zeros((length, depth))
    for pos in range(length):
        for j in range(depth):
            i = j // 2
            angle = pos / 10000 ** (2 * i / depth)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


@pytest.mark.parametrize("length,depth", [(50, 16), (7, 7), (1, 2)])
def test_table_matches_the_paper(length, depth):
    table = positional_encoding(length, depth)
    assert table.shape == (length, depth) and table.dtype == np.float32
    np.testing.assert_allclose(table, paper_table(length, depth), atol=1e-6)


def test_position_zero_is_sin0_cos0():
    np.testing.assert_array_equal(positional_encoding(1, 6)[0], [0, 1, 0, 1, 0, 1])


def embedding_table(layer):
    return ops.convert_to_numpy(layer.token_embedding.embeddings)


def test_sinusoidal_embedding_is_scaled_tokens_plus_table():
    layer = PositionalEmbedding(vocabulary_size=10, d_model=8, max_length=16)
    output = ops.convert_to_numpy(layer(IDS))
    assert output.shape == (2, 6, 8)
    expected = embedding_table(layer)[IDS] * math.sqrt(8) + positional_encoding(16, 8)[:6]
    np.testing.assert_allclose(output, expected, atol=1e-6)
    assert len(layer.trainable_weights) == 1  # the sinusoidal table is not a weight


def test_without_scaling():
    layer = PositionalEmbedding(10, 8, max_length=16, scale_embeddings=False)
    output = ops.convert_to_numpy(layer(IDS))
    expected = embedding_table(layer)[IDS] + positional_encoding(16, 8)[:6]
    np.testing.assert_allclose(output, expected, atol=1e-6)


def test_learned_positions():
    keras.utils.set_random_seed(0)
    layer = PositionalEmbedding(10, 8, max_length=16, positional="learned")
    output = ops.convert_to_numpy(layer(IDS))
    positions = ops.convert_to_numpy(layer.position_embedding.embeddings)
    assert positions.shape == (16, 8)
    assert len(layer.trainable_weights) == 2
    expected = embedding_table(layer)[IDS] * math.sqrt(8) + positions[:6]
    np.testing.assert_allclose(output, expected, atol=1e-6)


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_start_index_equals_slicing_the_full_result(positional):
    layer = PositionalEmbedding(10, 8, max_length=16, positional=positional)
    full = ops.convert_to_numpy(layer(IDS))
    for start in (1, 3, 5):
        part = ops.convert_to_numpy(layer(IDS[:, start:], start_index=start))
        np.testing.assert_allclose(part, full[:, start:], atol=1e-6)
    one = ops.convert_to_numpy(layer(IDS[:, 4:5], start_index=4))
    np.testing.assert_allclose(one, full[:, 4:5], atol=1e-6)


def test_unknown_positional_is_rejected():
    with pytest.raises(ValueError, match=r"positional must be 'sinusoidal', 'learned' or "
                                         r"'rotary', received 'alibi'"):
        PositionalEmbedding(10, 8, positional="alibi")


def test_rotary_adds_no_position_vectors():
    """Rotary positions live in the attention layers: here only the scaled token embedding,
    and no position weights."""
    layer = PositionalEmbedding(10, 8, max_length=16, positional="rotary")
    output = ops.convert_to_numpy(layer(IDS))
    assert len(layer.weights) == 1
    np.testing.assert_allclose(output, embedding_table(layer)[IDS] * math.sqrt(8), atol=1e-6)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(IDS[:, 2:], start_index=2)),
                                  output[:, 2:])


@pytest.mark.parametrize("positional", ["sinusoidal", "learned", "rotary"])
def test_run_layer_test(positional, tmp_path):
    run_layer_test(lambda: PositionalEmbedding(10, 8, max_length=16, positional=positional),
                   (IDS,), expected_output_shape=(2, 6, 8), tmp_dir=tmp_path)
