"""Generation beyond the Transformer: GPT from prompts of different lengths (cached ==
uncached == a naive loop), beam search (beam 1 == greedy, exhaustive beam == brute force,
a myopic case where beam beats greedy), and sequence-to-sequence models without a cache."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import itertools  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import ops  # noqa: E402

from tfbig.errors import TfbigError  # noqa: E402
from tfbig.generation import METHODS, generate  # noqa: E402
from tfbig.models import GPT, RNNSeq2Seq, Transformer  # noqa: E402

START, END = 2, 3
# Right-padded prompts of lengths 4, 1, 2 and 0 (an empty prompt starts from START).
PROMPTS = np.array([[7, 8, 9, 10],
                    [7, 0, 0, 0],
                    [11, 12, 0, 0],
                    [0, 0, 0, 0]], "int32")
SOURCE = np.array([[5, 6, 7, 0], [8, 9, 10, 11]], "int32")
TARGET = np.array([[2, 4, 5, 0], [2, 5, 0, 0]], "int32")  # only to build the Transformer


def log_softmax(logits):
    return np.asarray(ops.log_softmax(ops.convert_to_tensor(logits), axis=-1))


def prompt_of(row):
    return [int(t) for t in row if t] or [START]


@pytest.fixture(scope="module")
def gpt():
    keras.utils.set_random_seed(12)
    model = GPT(vocabulary_size=16, num_layers=1, num_heads=2, hidden_dim=8,
                intermediate_dim=16, dropout=0.0, max_sequence_length=12)
    model(PROMPTS)
    return model


@pytest.fixture(scope="module")
def transformer():
    keras.utils.set_random_seed(13)
    model = Transformer(num_layers=1, d_model=8, num_heads=2, dff=16, input_vocab_size=16,
                        target_vocab_size=6, dropout_rate=0.0, max_length=12)
    model((SOURCE, TARGET))
    # Never predict padding (id 0): teacher-forced scoring would read it as padding.
    bias = np.asarray(model.output_projection.bias)
    model.output_projection.bias.assign(np.where(np.arange(6) == 0, -30.0, bias))
    return model


def naive_greedy(model, prompt, max_new_tokens, end_id):
    """Re-run the full model on the growing sequence; no cache, no batching."""
    sequence, new = list(prompt), []
    for _ in range(max_new_tokens):
        logits = model({"token_ids": np.array([sequence], "int32"),
                        "padding_mask": np.ones((1, len(sequence)), bool)})
        token = int(np.argmax(np.asarray(logits)[0, -1]))
        new.append(token)
        sequence.append(token)
        if token == end_id:
            break
    return new + [0] * (max_new_tokens - len(new))


def test_gpt_continues_each_prompt_cached_uncached_and_xla_agree(gpt):
    cached = np.asarray(generate(gpt, PROMPTS, 5, START, END))
    assert cached.shape == (4, 5) and cached.dtype == np.int32
    expected = [naive_greedy(gpt, prompt_of(row), 5, END) for row in PROMPTS]
    np.testing.assert_array_equal(cached, expected)
    np.testing.assert_array_equal(generate(gpt, PROMPTS, 5, START, END, use_cache=False),
                                  cached)
    for jit_compile in (True, False):
        np.testing.assert_array_equal(
            generate(gpt, PROMPTS, 5, START, END, jit_compile=jit_compile), cached)


def test_gpt_prompt_widths_share_one_compiled_function(gpt):
    """Prompt widths 4 and 6 are padded to the same width (here capped at the context's
    12 - 5 + 1 = 8): one traced function, each row's continuation unchanged."""
    first = np.asarray(generate(gpt, PROMPTS, 5, START, END))
    count = len(gpt._tfbig_generate_functions)
    wider = np.pad(PROMPTS, ((0, 0), (0, 2)))
    np.testing.assert_array_equal(generate(gpt, wider, 5, START, END), first)
    assert len(gpt._tfbig_generate_functions) == count


def test_beam_size_one_is_greedy(gpt, transformer):
    for model, inputs in ((gpt, PROMPTS), (transformer, SOURCE)):
        greedy = generate(model, inputs, 5, START, END)
        beam = generate(model, inputs, 5, START, END, method="beam", beam_size=1)
        np.testing.assert_array_equal(beam, greedy)


def test_exhaustive_beam_finds_the_most_likely_gpt_continuation(gpt):
    """With beam_size = vocabulary and 2 new tokens, no pair can be pruned: the beam's answer
    is the argmax over all V² continuations of each prompt ."""
    vocabulary = gpt.vocabulary_size
    beam = np.asarray(generate(gpt, PROMPTS, 2, START, method="beam", beam_size=vocabulary,
                               length_penalty=0.0))
    for row, answer in zip(PROMPTS, beam):
        prompt = prompt_of(row)
        sequences = np.array([prompt + [y1] for y1 in range(vocabulary)], "int32")  # (V, L+1)
        log_probs = log_softmax(gpt({"token_ids": sequences,
                                     "padding_mask": np.ones(sequences.shape, bool)}))
        scores = log_probs[0, len(prompt) - 1][:, None] + log_probs[:, len(prompt)]  # (V, V)
        assert tuple(answer) == np.unravel_index(np.argmax(scores), scores.shape)


def test_exhaustive_beam_finds_the_most_likely_translation(transformer):
    vocabulary = transformer.target_vocab_size
    beam = np.asarray(generate(transformer, SOURCE, 2, START, method="beam",
                               beam_size=vocabulary, length_penalty=0.0))
    for source, answer in zip(SOURCE, beam):
        targets = np.array([[START, y1] for y1 in range(vocabulary)], "int32")
        log_probs = log_softmax(transformer((np.repeat(source[None], vocabulary, 0), targets)))
        scores = log_probs[0, 0][:, None] + log_probs[:, 1]  # (V, V): log P(y1) + log P(y2|y1)
        assert tuple(answer) == np.unravel_index(np.argmax(scores), scores.shape)


class BigramLM(keras.Model):
    """A hand-made decoder-only model: ``log P(next | current)`` from a fixed table."""

    def __init__(self, probabilities):
        super().__init__()
        self.log_table = np.log(np.asarray(probabilities, "float32") + 1e-9)
        self.max_sequence_length = 16
        self.built = True

    def call(self, inputs, training=None):
        token_ids = inputs["token_ids"] if isinstance(inputs, dict) else inputs
        return ops.take(ops.convert_to_tensor(self.log_table), token_ids, axis=0)

    def init_caches(self, batch_size, max_length):
        return [ops.zeros((batch_size, 1))]  # nothing to remember: a bigram model

    def call_with_cache(self, token_ids, caches, cache_update_index):
        return self.call(token_ids), caches


# Tokens: 0 pad, 1 S (prompt), 2 A, 3 B, 4 END, 5 x, 6 y, 7 z.
MYOPIC = np.full((8, 8), 1 / 8)
MYOPIC[1] = [0, 0, .5, .4, 0, .05, .05, 0]  # S → A is likelier than S → B ...
MYOPIC[2] = [0, 0, 0, 0, .1, .32, .29, .29]  # ... but A is followed by a spread of tokens,
MYOPIC[3] = [0, 0, 0, 0, .9, .1, 0, 0]  # while B is almost surely followed by END.
MYOPIC[5:8] = [0, 0, 0, 0, .9, .1, 0, 0]


def bigram_log_prob(sequence):
    tokens = [1] + [t for t in sequence if t]
    return sum(np.log(MYOPIC[a, b]) for a, b in itertools.pairwise(tokens))


def test_beam_beats_myopic_greedy():
    model = BigramLM(MYOPIC)
    prompt = np.array([[1]], "int32")
    greedy = np.asarray(generate(model, prompt, 3, START, end_id=4))[0]
    beam = np.asarray(generate(model, prompt, 3, START, end_id=4, method="beam",
                               beam_size=2, length_penalty=0.0))[0]
    assert greedy.tolist() == [2, 5, 4]  # A x END: 0.5 · 0.32 · 0.9 = 0.144
    assert beam.tolist() == [3, 4, 0]  # B END, then padding: 0.4 · 0.9 = 0.36
    assert bigram_log_prob(beam) > bigram_log_prob(greedy)


def test_seq2seq_without_cache_generates_greedily():
    keras.utils.set_random_seed(14)
    model = RNNSeq2Seq(16, 12, embedding_dim=8, units=8, dropout=0.0)
    tokens = np.asarray(generate(model, SOURCE, 4, START))
    for source, row in zip(SOURCE, tokens):
        target = [START]
        for _ in range(4):
            logits = model((source[None], np.array([target], "int32")))
            target.append(int(np.argmax(np.asarray(logits)[0, -1])))
        assert row.tolist() == target[1:]


def test_bad_options_are_explained(gpt):
    assert METHODS == ("greedy", "sample", "beam")
    with pytest.raises(TfbigError, match="'nucleus' is not known; expected one of greedy, "
                                         "sample, beam"):
        generate(gpt, PROMPTS, 3, START, method="nucleus")
    with pytest.raises(TfbigError, match="beam_size must be an integer >= 1, received 0"):
        generate(gpt, PROMPTS, 3, START, method="beam", beam_size=0)
    with pytest.raises(TfbigError, match="length_penalty must be >= 0, received -1"):
        generate(gpt, PROMPTS, 3, START, method="beam", length_penalty=-1)
    with pytest.raises(TfbigError, match=r"prompt length 4 \+ max_new_tokens 10 - 1 exceeds "
                                         r"the model's max_sequence_length \(12\)"):
        generate(gpt, PROMPTS, 10, START)
    with pytest.raises(TfbigError, match=r"source_ids must be \[batch, length\]"):
        generate(gpt, PROMPTS[0], 3, START)
