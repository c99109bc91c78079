"""MultiHeadAttention: parity with Keras' own layer, incremental decoding, dropout, Keras
checklist."""

import keras
import numpy as np
import pytest
from helpers import float32_tolerance, run_layer_test
from keras import ops

from tfbig.layers import MultiHeadAttention, masks

HEADS, HEAD_DIM, D_MODEL = 2, 4, 8
RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(2, 5, D_MODEL)).astype("float32")
SOURCE = RNG.normal(size=(2, 3, D_MODEL)).astype("float32")
# Cross-attention mask (B, T_q, T_k): the second source sequence has one padded key.
CROSS_MASK = np.broadcast_to(
    ops.convert_to_numpy(masks.key_padding_mask(np.array([[4, 5, 6], [4, 5, 0]]))), (2, 5, 3))
CAUSAL = np.broadcast_to(ops.convert_to_numpy(masks.causal_mask(5)), (2, 5, 5))


def numpy_of(x):
    return ops.convert_to_numpy(x)


def copy_keras_weights(keras_mha, mha):
    """Keras' EinsumDense kernels ``[d, heads, head_dim]`` → our Dense ``[d, heads*head_dim]``."""
    for ours, theirs in ((mha.query_dense, keras_mha.query_dense),
                         (mha.key_dense, keras_mha.key_dense),
                         (mha.value_dense, keras_mha.value_dense)):
        kernel, bias = (numpy_of(w) for w in theirs.weights)
        ours.set_weights([kernel.reshape(kernel.shape[0], -1), bias.reshape(-1)])
    kernel, bias = (numpy_of(w) for w in keras_mha.output_dense.weights)
    mha.output_dense.set_weights([kernel.reshape(-1, kernel.shape[-1]), bias])


@pytest.fixture(scope="module")
def layers():
    """A Keras MultiHeadAttention and ours with the same weights (built for cross-attention
    too: Keras' layer builds per query/value shape, the projections are shape-agnostic)."""
    keras.utils.set_random_seed(1)
    theirs = keras.layers.MultiHeadAttention(HEADS, HEAD_DIM, bias_initializer="random_normal")
    theirs(QUERY, SOURCE)
    ours = MultiHeadAttention(HEADS, HEAD_DIM)
    ours(QUERY, SOURCE)
    copy_keras_weights(theirs, ours)
    return theirs, ours


@pytest.mark.parametrize("self_attention", [True, False], ids=["self", "cross"])
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_matches_keras_multi_head_attention(layers, self_attention, masked):
    theirs, ours = layers
    value = QUERY if self_attention else SOURCE
    mask = (CAUSAL if self_attention else CROSS_MASK) if masked else None
    expected, expected_scores = theirs(QUERY, value, attention_mask=mask,
                                       return_attention_scores=True)
    output, scores = ours(QUERY, value, attention_mask=mask, return_attention_scores=True)
    assert tuple(output.shape) == (2, 5, D_MODEL)
    assert tuple(scores.shape) == (2, HEADS, 5, value.shape[1])
    np.testing.assert_allclose(numpy_of(output), numpy_of(expected), atol=1e-5)
    np.testing.assert_allclose(numpy_of(scores), numpy_of(expected_scores), atol=1e-5)
    if masked:
        np.testing.assert_array_equal(numpy_of(scores)[~np.broadcast_to(
            mask[:, None], scores.shape)], 0.0)


def test_separate_key_input_matches_keras(layers):
    theirs, ours = layers
    key = RNG.normal(size=SOURCE.shape).astype("float32")
    np.testing.assert_allclose(numpy_of(ours(QUERY, SOURCE, key)),
                               numpy_of(theirs(QUERY, SOURCE, key)), atol=1e-5)


def test_value_defaults_to_query(layers):
    _, ours = layers
    np.testing.assert_array_equal(numpy_of(ours(QUERY)), numpy_of(ours(QUERY, QUERY, QUERY)))


def stacked(cache):
    """A cache in the one-tensor form ``[B, 2, heads, T, head_dim]``, whichever it was given."""
    return np.stack([numpy_of(c) for c in cache], axis=1) if isinstance(cache, tuple) else (
        numpy_of(cache))


@pytest.mark.parametrize("form", ["stacked", "pair"])
def test_incremental_decoding_with_cache_equals_full_causal_attention(layers, form):
    _, mha = layers
    batch, length = QUERY.shape[:2]
    full = numpy_of(mha(QUERY, attention_mask=masks.causal_mask(length)))
    if form == "stacked":
        cache = ops.zeros((batch, 2, HEADS, length, HEAD_DIM))
    else:
        cache = (ops.zeros((batch, HEADS, length, HEAD_DIM)),) * 2  # (keys, values)
    steps = []
    for t in range(length):
        # The query at position t may attend to cache slots 0..t.
        slot_mask = ops.convert_to_numpy(ops.arange(length) <= t)[None]  # (1, T_max)
        output, cache = mha(QUERY[:, t:t + 1], attention_mask=slot_mask, cache=cache,
                            cache_update_index=t)
        steps.append(numpy_of(output))
    assert isinstance(cache, tuple) == (form == "pair")  # given back in the form it came
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    # The filled cache holds the keys/values of the whole sequence. float32: projecting one
    # token at a time may sum the D_MODEL products in another order than the whole
    # sequence's matmul does: ≤ D_MODEL·eps·Σ|x·w| (+|b|) apart.
    terms = max((np.abs(QUERY) @ np.abs(numpy_of(dense.kernel)) + np.abs(numpy_of(dense.bias))
                 ).max() for dense in (mha.key_dense, mha.value_dense))
    np.testing.assert_allclose(stacked(cache), numpy_of(mha.project_key_value(QUERY)),
                               atol=float32_tolerance(magnitude=terms, steps=D_MODEL, ulps=1))


@pytest.mark.parametrize("form", ["stacked", "pair"])
def test_fixed_cache_is_cross_attention(layers, form):
    _, mha = layers
    cache = mha.project_key_value(SOURCE, pair=form == "pair")
    assert tuple(stacked(cache).shape) == (2, 2, HEADS, 3, HEAD_DIM)
    output, same_cache = mha(QUERY, attention_mask=CROSS_MASK, cache=cache)
    np.testing.assert_allclose(numpy_of(output),
                               numpy_of(mha(QUERY, SOURCE, attention_mask=CROSS_MASK)),
                               atol=1e-6)
    np.testing.assert_array_equal(stacked(same_cache), stacked(cache))


def test_dropout_only_when_training():
    keras.utils.set_random_seed(2)
    mha = MultiHeadAttention(HEADS, HEAD_DIM, dropout=0.5)
    plain = MultiHeadAttention(HEADS, HEAD_DIM)
    inference = numpy_of(mha(QUERY))
    plain(QUERY)
    plain.set_weights(mha.get_weights())
    np.testing.assert_array_equal(numpy_of(mha(QUERY, training=False)), inference)
    np.testing.assert_allclose(inference, numpy_of(plain(QUERY)), atol=1e-6)
    trained_once = numpy_of(mha(QUERY, training=True))
    assert not np.allclose(trained_once, inference, atol=1e-3)
    assert not np.allclose(trained_once, numpy_of(mha(QUERY, training=True)), atol=1e-3)


def test_value_dim_and_output_dim():
    mha = MultiHeadAttention(HEADS, HEAD_DIM, value_dim=3, output_dim=6)
    output, scores = mha(QUERY, SOURCE, return_attention_scores=True)
    assert tuple(output.shape) == (2, 5, 6)
    assert tuple(scores.shape) == (2, HEADS, 5, 3)
    assert tuple(mha.value_dense.kernel.shape) == (D_MODEL, HEADS * 3)
    assert tuple(mha.output_dense.kernel.shape) == (HEADS * 3, 6)


def test_without_bias():
    mha = MultiHeadAttention(HEADS, HEAD_DIM, use_bias=False)
    mha(QUERY)
    assert len(mha.weights) == 4  # four kernels, no biases


def test_run_layer_test_self_attention(tmp_path):
    run_layer_test(lambda: MultiHeadAttention(HEADS, HEAD_DIM, dropout=0.1),
                   (QUERY,), call_kwargs={"attention_mask": CAUSAL},
                   expected_output_shape=(2, 5, D_MODEL), tmp_dir=tmp_path)


def test_run_layer_test_cross_attention(tmp_path):
    run_layer_test(lambda: MultiHeadAttention(HEADS, HEAD_DIM, output_dim=6),
                   (QUERY, SOURCE), call_kwargs={"attention_mask": CROSS_MASK},
                   expected_output_shape=(2, 5, 6), tmp_dir=tmp_path)


def test_symbolic_call_returns_attention_scores():
    query = keras.Input((5, D_MODEL))
    output, scores = MultiHeadAttention(HEADS, HEAD_DIM)(query, return_attention_scores=True)
    assert tuple(output.shape) == (None, 5, D_MODEL)
    assert tuple(scores.shape) == (None, HEADS, 5, 5)
