"""generate(): cached == uncached == XLA, end_id handling, sampling, argument checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from tfbig.errors import TfbigError
from tfbig.generation import WIDTH_BUCKET, generate, use_xla
from tfbig.models import Transformer

START = 2
MAX_NEW = 7
SOURCE = np.array([[5, 6, 7, 8, 0, 0],
                   [9, 10, 11, 4, 5, 6],
                   [4, 4, 4, 0, 0, 0],
                   [19, 18, 17, 16, 15, 14]], "int32")


def numpy_of(x):
    return ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def model():
    # Seeded so that the untrained model's greedy outputs vary across steps and sequences.
    keras.utils.set_random_seed(0)
    model = Transformer(num_layers=1, d_model=32, num_heads=2, dff=64, input_vocab_size=20,
                        target_vocab_size=20, dropout_rate=0.0, max_length=16)
    model((SOURCE, SOURCE))
    return model


@pytest.fixture(scope="module")
def greedy(model):
    tokens = numpy_of(generate(model, SOURCE, MAX_NEW, START))
    assert tokens.shape == (4, MAX_NEW) and tokens.dtype == np.int32
    assert len(np.unique(tokens)) > 2  # a meaningful fixture: not one repeated token
    return tokens


def teacher_forced_greedy(model, source, steps):
    """Reference: append argmax of the full model's last logits, one token at a time."""
    tokens = np.full((len(source), 1), START, "int32")
    for _ in range(steps):
        logits = numpy_of(model((source, tokens), training=False))
        tokens = np.concatenate([tokens, logits[:, -1].argmax(-1)[:, None]], axis=1)
    return tokens[:, 1:]


def test_greedy_matches_running_the_full_model(model, greedy):
    np.testing.assert_array_equal(greedy, teacher_forced_greedy(model, SOURCE, MAX_NEW))


# Warnings are errors: the one-key softmax used to make Keras warn "You are using a softmax
# over axis -1 of a tensor of shape (4, 2, 1, 1)" (tfbig.layers.attention now says it is 1).
@pytest.mark.filterwarnings("error::UserWarning")
def test_attending_over_one_key_does_not_warn():
    """One new token (a one-slot self-attention cache, XLA or not) and the first
    teacher-forced step (one target token) each attend over a single key."""
    keras.utils.set_random_seed(1)
    model = Transformer(num_layers=1, d_model=16, num_heads=2, dff=32, input_vocab_size=20,
                        target_vocab_size=20, dropout_rate=0.0, max_length=16)
    first = numpy_of(model((SOURCE, np.full((len(SOURCE), 1), START)), training=False))
    for jit_compile in (False, True):
        tokens = numpy_of(generate(model, SOURCE, 1, START, jit_compile=jit_compile))
        np.testing.assert_array_equal(tokens[:, 0], first[:, 0].argmax(-1))


def test_cached_equals_uncached(model, greedy):
    uncached = numpy_of(generate(model, SOURCE, MAX_NEW, START, use_cache=False))
    np.testing.assert_array_equal(uncached, greedy)


def test_xla_equals_graph(model, greedy):
    for jit_compile in (True, False):
        np.testing.assert_array_equal(
            numpy_of(generate(model, SOURCE, MAX_NEW, START, jit_compile=jit_compile)), greedy)
    np.testing.assert_array_equal(  # XLA on, no cache
        numpy_of(generate(model, SOURCE, MAX_NEW, START, use_cache=False, jit_compile=True)),
        greedy)


def test_auto_means_xla_on_this_backend():
    assert use_xla("auto") and use_xla(True) and not use_xla(False)


@pytest.mark.parametrize("sampling", [dict(top_k=5), dict(top_p=0.9), dict()])
def test_seeded_sampling_under_xla_repeats(model, sampling):
    """Under XLA (sort-free cut-offs) a seed repeats its tokens; another seed differs."""
    def run(seed):
        return numpy_of(generate(model, SOURCE, MAX_NEW, START, method="sample", seed=seed,
                                 temperature=3.0, jit_compile=True, **sampling))
    first = run(5)
    compiled = len(model._tfbig_generate_functions)
    np.testing.assert_array_equal(run(5), first)
    assert not np.array_equal(run(6), first)
    assert len(model._tfbig_generate_functions) == compiled  # one function for every seed


def test_top_k_sampling_under_xla_draws_from_the_k_most_likely(model):
    first_logits = numpy_of(model((SOURCE, np.full((len(SOURCE), 1), START)), training=False))
    allowed = np.argsort(-first_logits[:, 0], axis=-1)[:, :3]  # (B, 3)
    for seed in range(5):
        tokens = numpy_of(generate(model, SOURCE, 1, START, method="sample", top_k=3,
                                   temperature=10.0, seed=seed, jit_compile=True))
        assert all(token in row for token, row in zip(tokens[:, 0], allowed))


def test_top_k_1_sampling_under_xla_equals_greedy(model, greedy):
    tokens = generate(model, SOURCE, MAX_NEW, START, method="sample", top_k=1, seed=3,
                      jit_compile=True)
    np.testing.assert_array_equal(numpy_of(tokens), greedy)


def test_source_widths_in_one_bucket_share_one_xla_program(greedy):
    """Widths 6 and 9 are padded to 16: the same tokens from one traced function."""
    keras.utils.set_random_seed(0)
    model = Transformer(num_layers=1, d_model=32, num_heads=2, dff=64, input_vocab_size=20,
                        target_vocab_size=20, dropout_rate=0.0, max_length=16)
    model((SOURCE, SOURCE))  # the same weights as the module's model (same seed)
    assert WIDTH_BUCKET == 16
    tokens = numpy_of(generate(model, SOURCE, MAX_NEW, START, jit_compile=True))
    np.testing.assert_array_equal(tokens, greedy)
    (function,) = model._tfbig_generate_functions.values()
    traced = function.experimental_get_tracing_count()
    wider = np.pad(SOURCE, ((0, 0), (0, 3)))  # width 9: more padding, same sentences
    np.testing.assert_array_equal(
        numpy_of(generate(model, wider, MAX_NEW, START, jit_compile=True)), greedy)
    assert function.experimental_get_tracing_count() == traced


def test_tokens_after_end_id_are_zero(model, greedy):
    # An end token the model emits after step 0 in some sequences but not in all.
    candidates = [t for t in np.unique(greedy[:, 1:])
                  if 0 < np.any(greedy[:, 1:] == t, axis=1).sum() < len(greedy)
                  and t not in greedy[:, 0]]
    assert candidates, f"no usable end token in {greedy}"
    end_id = int(candidates[0])
    tokens = numpy_of(generate(model, SOURCE, MAX_NEW, START, end_id=end_id))
    for row, full in zip(tokens, greedy):
        hits = np.flatnonzero(full == end_id)
        if len(hits):
            stop = hits[0]
            np.testing.assert_array_equal(row[:stop + 1], full[:stop + 1])  # end_id is kept
            np.testing.assert_array_equal(row[stop + 1:], 0)
        else:
            np.testing.assert_array_equal(row, full)


def test_top_k_1_sampling_equals_greedy(model, greedy):
    tokens = generate(model, SOURCE, MAX_NEW, START, method="sample", top_k=1, seed=3,
                      jit_compile=False)
    np.testing.assert_array_equal(numpy_of(tokens), greedy)


def sample(model, seed):
    # A high temperature flattens the distribution: different seeds must differ.
    return numpy_of(generate(model, SOURCE, MAX_NEW, START, method="sample",
                             temperature=5.0, top_p=0.99, seed=seed))


@pytest.fixture(scope="module")
def sampled(model):
    return sample(model, seed=11)


def test_sampling_different_seeds_differ(model, sampled):
    assert sampled.shape == (4, MAX_NEW)
    assert np.all((sampled >= 0) & (sampled < 20))
    assert not np.array_equal(sample(model, seed=12), sampled)


def test_sampling_same_seed_twice_gives_the_same_tokens(model, sampled):
    np.testing.assert_array_equal(sample(model, seed=11), sampled)


def test_cached_equals_uncached_when_the_model_emits_padding():
    keras.utils.set_random_seed(3)
    source = np.array([[3, 4, 5, 1, 0, 0], [2, 3, 4, 5, 1, 2]], "int32")
    model = Transformer(1, 16, 2, 32, input_vocab_size=6, target_vocab_size=6,
                        dropout_rate=0.0, max_length=16)
    model((source, source))
    model.output_projection.bias.assign(np.array([1, 0, 0, 0, 0, 0], "float32"))  # favour PAD
    cached = numpy_of(generate(model, source, 6, START))
    if not np.any(cached[:, :-1] == 0):
        pytest.skip("this seed no longer makes the model emit PAD; pick another")
    np.testing.assert_array_equal(numpy_of(generate(model, source, 6, START, use_cache=False)),
                                  cached)


def test_more_tokens_than_max_length_is_a_tfbig_error(model):
    with pytest.raises(TfbigError, match="max_length"):
        generate(model, SOURCE, model.max_length + 1, START)


@pytest.mark.parametrize("options,message", [
    (dict(method="nucleus"),
     r"generation method 'nucleus' is not known; expected one of greedy, sample, beam"),
    (dict(max_new_tokens=0), r"max_new_tokens must be >= 1, received 0"),
    (dict(method="sample", temperature=0.0), r"temperature must be > 0 for sampling, received 0"),
    (dict(method="sample", top_p=0.0), r"top_p must be in \(0, 1\], received 0"),
    (dict(method="sample", top_p=1.5), r"top_p must be in \(0, 1\], received 1.5"),
    (dict(jit_compile="yes"), r"jit_compile must be True, False or 'auto', received 'yes'"),
])
def test_invalid_options_raise(options, message):
    arguments = dict(model=None, source_ids=SOURCE, max_new_tokens=3, start_id=START)
    arguments.update(options)
    with pytest.raises(TfbigError, match=message):
        generate(**arguments)


def test_text_batches_top_up_the_last_batch_only_when_there_are_several():
    from tfbig.generation.batches import text_batches

    assert list(text_batches(["a", "b", "c", "d", "e"], 2)) == [
        (["a", "b"], 2), (["c", "d"], 2), (["e", "e"], 1)]
    assert list(text_batches(["a", "b"], 4)) == [(["a", "b"], 2)]  # one batch: as it is
    assert list(text_batches(["a", "b", "c", "d"], 2)) == [(["a", "b"], 2), (["c", "d"], 2)]
    assert list(text_batches([], 4)) == []
