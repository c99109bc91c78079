"""Text metrics: BLEU/chrF agree with sacrebleu itself; the rest against hand-computed values."""

import math

import numpy as np
import pytest
import sacrebleu

from tfbig.errors import TfbigError
from tfbig.scoring.text import corpus_bleu, corpus_chrf, exact_match, perplexity, token_accuracy

HYPOTHESES = ["the cat sat on the mat", "a dog barks loudly at night", "hello world"]
REFERENCES = ["the cat is sitting on the mat", "the dog barks loudly at night", "hello there world"]
SECOND_REFERENCES = ["a cat sat on the mat", "a dog is barking at night", "hello world"]


def test_bleu_equals_sacrebleu_on_a_0_to_100_scale():
    expected = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score
    score = corpus_bleu(HYPOTHESES, REFERENCES)
    assert score == expected
    assert 1.0 < score < 100.0  # 0-100, not 0-1
    assert corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(100.0)


def test_bleu_with_several_references_per_hypothesis():
    references = [[first, second] for first, second in zip(REFERENCES, SECOND_REFERENCES)]
    expected = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES, SECOND_REFERENCES]).score
    assert corpus_bleu(HYPOTHESES, references) == expected
    assert expected > corpus_bleu(HYPOTHESES, REFERENCES)  # more references can only help


def test_chrf_equals_sacrebleu():
    assert corpus_chrf(HYPOTHESES, REFERENCES) == sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score
    assert corpus_chrf(["abc"], ["abc"]) == pytest.approx(100.0)


def test_exact_match_strips_only_surrounding_whitespace():
    hypotheses = ["  Paris\n", "London", "new york", "a  b"]
    references = ["Paris", "london", "new york ", "a b"]
    # match, case differs, match, inner whitespace differs
    assert exact_match(hypotheses, references) == 0.5
    assert exact_match(["x"], ["x"]) == 1.0


def test_token_accuracy_ignores_padding():
    true_ids = [[4, 5, 6, 0, 0],
                [7, 8, 0, 0, 0]]
    pred_ids = [[4, 9, 6, 3, 0],   # 2 of 3 right; the 3 under padding does not count
                [7, 8, 1, 1, 1]]   # 2 of 2 right
    assert token_accuracy(pred_ids, true_ids) == pytest.approx(4 / 5)
    # With no padding id in the data, all 10 positions count: 3 + 2 right.
    assert token_accuracy(np.array(pred_ids), np.array(true_ids), pad_id=-1) == pytest.approx(5 / 10)


def test_perplexity_is_exp_of_mean_cross_entropy():
    vocabulary = 50  # a uniform guess over V tokens has CE = ln V and perplexity V
    assert perplexity(math.log(vocabulary)) == pytest.approx(vocabulary)
    assert perplexity(0.0) == 1.0
    assert perplexity(np.float32(2.0)) == pytest.approx(math.e ** 2, rel=1e-6)
    assert perplexity(1000.0) == math.inf


def test_perplexity_of_the_masked_mean_cross_entropy_leaves_padding_out():
    """The training loss (masked mean CE in nats) turned into perplexity equals exp of the
    mean -log p over the real target tokens only, computed here by hand with NumPy."""
    from tfbig.losses import MaskedSparseCrossentropy

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 6, 11)).astype(np.float32) * 3
    targets = np.array([[4, 7, 2, 0, 0, 0],
                        [9, 9, 1, 5, 3, 8],
                        [10, 0, 0, 0, 0, 0]], np.int32)  # 0 = padding: 10 real tokens
    log_p = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    nll = -np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]  # (3, 6)
    real = targets != 0
    expected = math.exp(nll[real].sum() / real.sum())
    masked = float(MaskedSparseCrossentropy()(targets, logits))
    assert perplexity(masked) == pytest.approx(expected, rel=1e-5)
    assert perplexity(nll.mean()) != pytest.approx(expected, rel=1e-2)  # padding would skew it


@pytest.mark.parametrize("call, message", [
    (lambda: corpus_bleu([], []), r"hypotheses is empty"),
    (lambda: corpus_bleu(["a", "b"], ["a"]), r"2 hypotheses but 1 references"),
    (lambda: corpus_bleu("a b", ["a b"]), r"hypotheses is a single string"),
    (lambda: corpus_bleu(["a"], "a"), r"references is a single string"),
    (lambda: corpus_bleu(["a", "b"], [["a", "x"], ["b"]]), r"\[1, 2\] references each; expected the same"),
    (lambda: corpus_bleu(["a"], [[]]), r"\[0\] references each"),
    (lambda: corpus_bleu([3], ["a"]), r"hypotheses\[0\] is int; expected str"),
    (lambda: corpus_chrf([], []), r"hypotheses is empty"),
    (lambda: exact_match([], []), r"hypotheses is empty"),
    (lambda: exact_match(["a"], ["a", "b"]), r"1 hypotheses but 2 references"),
    (lambda: token_accuracy([], []), r"true_ids is empty"),
    (lambda: token_accuracy([[1, 2]], [[1, 2, 3]]), r"pred_ids has shape \(1, 2\) but true_ids has \(1, 3\)"),
    (lambda: token_accuracy([[1, 2]], [[0, 0]]), r"no token other than padding \(pad_id=0\)"),
    (lambda: perplexity(-0.5), r"mean_cross_entropy is -0.5; expected a cross-entropy >= 0"),
    (lambda: perplexity(float("nan")), r"mean_cross_entropy is nan"),
    (lambda: perplexity("high"), r"mean_cross_entropy is 'high'; expected a number"),
])
def test_errors_say_what_was_received(call, message):
    with pytest.raises(TfbigError, match=message):
        call()
