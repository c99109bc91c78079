"""GPT: causality, padding invariance, the key/value cache path, saving and training."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from models.model_checks import (  # noqa: E402
    assert_config_round_trip, assert_fit_decreases, assert_save_load, outputs_of)

from tfbig.errors import TfbigError  # noqa: E402
from tfbig.models import GPT  # noqa: E402

VOCAB = 24
TOKENS = np.array([[7, 8, 9, 10, 11, 12],
                   [13, 14, 15, 0, 0, 0]], "int32")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(4)
    model = GPT(VOCAB, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
                dropout=0.0, max_sequence_length=16)
    model(TOKENS)
    return model


def test_logits_shape_and_dtype(model):
    logits = outputs_of(model, TOKENS)
    assert logits.shape == (2, 6, VOCAB) and logits.dtype == np.float32


def test_future_tokens_do_not_change_earlier_logits(model):
    changed = TOKENS.copy()
    changed[:, 3:] = [[20, 21, 22], [20, 21, 22]]
    before, after = outputs_of(model, TOKENS), outputs_of(model, changed)
    np.testing.assert_allclose(after[:, :3], before[:, :3], atol=1e-5)
    assert not np.allclose(after[0, 3:], before[0, 3:])


def test_extra_padding_changes_nothing(model):
    longer = np.pad(TOKENS, ((0, 0), (0, 4)))
    real = TOKENS != 0
    np.testing.assert_allclose(outputs_of(model, longer)[:, :6][real],
                               outputs_of(model, TOKENS)[real], atol=1e-5)


def test_dict_input_with_padding_mask(model):
    inputs = {"token_ids": TOKENS, "padding_mask": TOKENS != 0}
    np.testing.assert_allclose(outputs_of(model, inputs), outputs_of(model, TOKENS), atol=1e-6)


def test_cached_steps_equal_the_full_forward_pass(model):
    """Feeding 2 tokens, then 1, then 3 through the cache gives the full pass's logits."""
    tokens = TOKENS[:1]
    caches = model.init_caches(1, 6)
    pieces, start = [], 0
    for size in (2, 1, 3):
        logits, caches = model.call_with_cache(tokens[:, start:start + size], caches, start)
        pieces.append(np.asarray(logits))
        start += size
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), outputs_of(model, tokens),
                               atol=1e-5)


def test_embeddings_are_tied_and_unscaled(model):
    # The only [*, VOCAB]-sized tensor is the token embedding: no separate output layer.
    assert [w.path for w in model.weights if VOCAB in w.shape] == [
        model.embedding.token_embedding.embeddings.path]
    assert model.embedding.scale_embeddings is False and model.embedding.positional == "learned"


def test_save_load_config_and_fit(tmp_path):
    keras.utils.set_random_seed(5)
    model = GPT(VOCAB, 1, 2, 8, 16, dropout=0.0, max_sequence_length=16)
    model(TOKENS)
    assert_config_round_trip(model)
    assert_save_load(model, TOKENS, tmp_path)
    assert_fit_decreases(model, TOKENS[:, :-1], TOKENS[:, 1:])


def test_bad_arguments_are_explained(model):
    with pytest.raises(TfbigError, match=r"hidden_dim \(9\) must be divisible by num_heads"):
        GPT(VOCAB, 1, 2, 9, 16)
    with pytest.raises(TfbigError, match=r"cache of 20 positions exceeds max_sequence_length"):
        model.init_caches(1, 20)


# --- Rotary positions (RoPE): no position table, queries/keys rotated in every block -------

@pytest.fixture(scope="module")
def rotary_model():
    keras.utils.set_random_seed(6)
    model = GPT(VOCAB, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
                dropout=0.0, max_sequence_length=32, positional="rotary")
    model(TOKENS)
    return model


def test_rotary_has_no_position_table(rotary_model):
    assert not [w.path for w in rotary_model.weights if "position" in w.path]
    assert all(block.self_attention.rotary for block in rotary_model.blocks)


def test_rotary_token_order_reaches_the_logits():
    """With one causal block and no position information, the last position attends to the
    *set* of tokens before it (deeper causal stacks can infer order from the mask alone);
    with rotary, swapping two of them changes its logits."""
    keras.utils.set_random_seed(8)
    model = GPT(VOCAB, 1, 2, 16, 32, dropout=0.0, positional="rotary")
    swapped = TOKENS[:1, [1, 0, 2]]
    assert not np.allclose(outputs_of(model, swapped)[:, 2],
                           outputs_of(model, TOKENS[:1, :3])[:, 2], atol=1e-4)


def test_rotary_future_tokens_do_not_change_earlier_logits(rotary_model):
    changed = TOKENS.copy()
    changed[:, 3:] = [[20, 21, 22], [20, 21, 22]]
    before, after = outputs_of(rotary_model, TOKENS), outputs_of(rotary_model, changed)
    np.testing.assert_allclose(after[:, :3], before[:, :3], atol=1e-5)
    assert not np.allclose(after[0, 3:], before[0, 3:])


def test_rotary_extra_padding_changes_nothing(rotary_model):
    longer = np.pad(TOKENS, ((0, 0), (0, 4)))
    real = TOKENS != 0
    np.testing.assert_allclose(outputs_of(rotary_model, longer)[:, :6][real],
                               outputs_of(rotary_model, TOKENS)[real], atol=1e-5)


def test_rotary_cached_steps_equal_the_full_forward_pass(rotary_model):
    """2 tokens, then 1, then 3: each chunk rotated from its cache_update_index on."""
    tokens = TOKENS[:1]
    caches = rotary_model.init_caches(1, 6)
    pieces, start = [], 0
    for size in (2, 1, 3):
        logits, caches = rotary_model.call_with_cache(tokens[:, start:start + size], caches,
                                                      start)
        pieces.append(np.asarray(logits))
        start += size
    np.testing.assert_allclose(np.concatenate(pieces, axis=1),
                               outputs_of(rotary_model, tokens), atol=1e-5)


def test_rotary_cached_generation_equals_uncached(rotary_model):
    from tfbig.generation import generate

    prompts = np.array([[7, 8, 9, 10], [13, 14, 0, 0]], "int32")  # lengths 4 and 2
    cached = np.asarray(generate(rotary_model, prompts, max_new_tokens=10, start_id=2))
    uncached = np.asarray(generate(rotary_model, prompts, max_new_tokens=10, start_id=2,
                                   use_cache=False))
    np.testing.assert_array_equal(cached, uncached)
    assert len(np.unique(cached)) > 2  # not a constant row: the comparison means something


def test_rotary_save_load_config_and_fit(tmp_path):
    keras.utils.set_random_seed(7)
    model = GPT(VOCAB, 1, 2, 8, 16, dropout=0.0, max_sequence_length=16, positional="rotary")
    model(TOKENS)
    assert model.get_config()["positional"] == "rotary"
    assert_config_round_trip(model)
    restored = assert_save_load(model, TOKENS, tmp_path)
    np.testing.assert_array_equal(outputs_of(restored, TOKENS), outputs_of(model, TOKENS))
    assert restored.positional == "rotary" and restored.blocks[0].self_attention.rotary
    assert_fit_decreases(model, TOKENS[:, :-1], TOKENS[:, 1:])
