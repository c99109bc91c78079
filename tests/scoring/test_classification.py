"""Classification metrics against hand-computed values and loop-by-loop scikit-learn definitions."""

import itertools

import numpy as np
import pytest

from tfbig.errors import TfbigError
from tfbig.scoring.classification import (
    classification_report,
    confusion_matrix,
    most_confused_pairs,
    roc_auc,
    top_k_accuracy,
)

# 10 examples, 4 classes; class 3 ("fish") is never predicted.
Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3]
Y_PRED = [0, 1, 0, 1, 2, 2, 2, 2, 0, 0]
NAMES = ["cat", "dog", "bird", "fish"]


def reference_report(y_true, y_pred, num_classes):
    """scikit-learn's definitions, one class at a time with plain loops (zero_division=0)."""
    def ratio(a, b):
        return a / b if b else 0.0

    rows = []
    for c in range(num_classes):
        pairs = list(zip(y_true, y_pred))
        tp = sum(t == c and p == c for t, p in pairs)
        fp = sum(t != c and p == c for t, p in pairs)
        fn = sum(t == c and p != c for t, p in pairs)
        precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
        rows.append((precision, recall, ratio(2 * precision * recall, precision + recall), tp + fn))
    precision, recall, f1, support = (np.array(column, dtype=float) for column in zip(*rows))
    return precision, recall, f1, support


def test_confusion_matrix_by_hand():
    expected = [[2, 1, 0, 0],
                [0, 1, 1, 0],
                [1, 0, 3, 0],
                [1, 0, 0, 0]]
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED), expected)
    padded = confusion_matrix([0, 1], [1, 1], num_classes=3)
    np.testing.assert_array_equal(padded, [[0, 1, 0], [0, 1, 0], [0, 0, 0]])


def test_report_by_hand_with_a_class_never_predicted():
    report = classification_report(Y_TRUE, Y_PRED, class_names=NAMES)
    assert report["accuracy"] == pytest.approx(0.6)
    assert report["num_examples"] == 10
    # TP = [2, 1, 3, 0], FP = [2, 1, 1, 0], FN = [1, 1, 1, 1], support = [3, 2, 4, 1]
    assert report["classes"]["cat"] == pytest.approx({"precision": 0.5, "recall": 2 / 3, "f1": 4 / 7, "support": 3})
    assert report["classes"]["dog"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert report["classes"]["bird"] == pytest.approx({"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4})
    # fish: never predicted, so precision is 0/0 -> 0 (zero_division=0), not NaN.
    assert report["classes"]["fish"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["macro"] == pytest.approx(
        {"precision": 1.75 / 4, "recall": (2 / 3 + 0.5 + 0.75) / 4, "f1": (4 / 7 + 0.5 + 0.75) / 4})
    assert report["weighted"] == pytest.approx(
        {"precision": 0.55, "recall": 0.6, "f1": (3 * 4 / 7 + 2 * 0.5 + 4 * 0.75) / 10})
    assert report["micro"] == pytest.approx({"precision": 0.6, "recall": 0.6, "f1": 0.6})


@pytest.mark.parametrize("seed", range(5))
def test_report_matches_loop_definitions(seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, 5, size=40), rng.integers(0, 5, size=40)
    report = classification_report(y_true, y_pred, class_names=list("abcdef"))  # "f" absent from both
    precision, recall, f1, support = reference_report(y_true.tolist(), y_pred.tolist(), 6)
    got = {key: np.array([report["classes"][n][key] for n in "abcdef"]) for key in ("precision", "recall", "f1")}
    np.testing.assert_allclose(got["precision"], precision)
    np.testing.assert_allclose(got["recall"], recall)
    np.testing.assert_allclose(got["f1"], f1)
    assert [report["classes"][n]["support"] for n in "abcdef"] == support.tolist()
    assert report["macro"]["f1"] == pytest.approx(f1.mean())
    assert report["weighted"]["f1"] == pytest.approx((f1 * support).sum() / support.sum())
    assert report["micro"]["f1"] == pytest.approx(np.mean(y_true == y_pred)) == report["accuracy"]


def test_report_all_correct_and_default_names():
    report = classification_report([2, 0, 1, 2], [2, 0, 1, 2])
    assert list(report["classes"]) == ["0", "1", "2"]
    assert report["accuracy"] == 1.0
    for average in ("macro", "micro", "weighted"):
        assert report[average] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


SKLEARN_CASES = {
    "a class never predicted": (Y_TRUE, Y_PRED, 4),
    "a class in neither array": ([0, 1, 1, 2, 0], [0, 1, 2, 2, 1], 5),
    "all correct": ([2, 0, 1, 2, 1], [2, 0, 1, 2, 1], 3),
    "all wrong": ([0, 0, 1, 1], [1, 1, 0, 0], 2),
    "one example": ([1], [1], 2),
    **{f"random {seed}": (*np.random.default_rng(seed).integers(0, 6, (2, 50)).tolist(), 6)
       for seed in range(3)},
}


@pytest.mark.parametrize("case", SKLEARN_CASES)
def test_report_equals_scikit_learn(case):
    """Every number of ``classification_report`` is scikit-learn's own, on the same labels."""
    metrics = pytest.importorskip("sklearn.metrics")
    y_true, y_pred, num_classes = SKLEARN_CASES[case]
    labels = list(range(num_classes))
    names = [f"class {c}" for c in labels]
    report = classification_report(y_true, y_pred, class_names=names)
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, num_classes=num_classes),
                                  metrics.confusion_matrix(y_true, y_pred, labels=labels))
    assert report["accuracy"] == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0)
    for c, name in enumerate(names):
        assert report["classes"][name] == pytest.approx(
            {"precision": precision[c], "recall": recall[c], "f1": f1[c], "support": support[c]})
    for average in ("macro", "micro", "weighted"):
        precision, recall, f1, _ = metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0)
        assert report[average] == pytest.approx(
            {"precision": precision, "recall": recall, "f1": f1}), average


def test_roc_auc_and_top_k_equal_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200)
    scores = labels * 0.3 + rng.normal(size=200)  # informative, not perfect
    assert roc_auc(labels, scores) == pytest.approx(metrics.roc_auc_score(labels, scores))
    tied = np.round(scores)  # few distinct values: many ties
    assert roc_auc(labels, tied) == pytest.approx(metrics.roc_auc_score(labels, tied))
    y_true = rng.integers(0, 7, 300)
    logits = rng.normal(size=(300, 7)) + 1.5 * np.eye(7)[y_true]
    for k in (1, 3, 5):
        assert top_k_accuracy(y_true, logits, k) == pytest.approx(
            metrics.top_k_accuracy_score(y_true, logits, k=k, labels=range(7))), k


def test_roc_auc_with_ties_equals_pair_counting():
    labels = [0, 0, 1, 1, 0, 1]
    scores = [0.1, 0.5, 0.5, 0.9, 0.5, 0.2]
    # positives 0.5, 0.9, 0.2 vs negatives 0.1, 0.5, 0.5: (1 + .5 + .5) + 3 + 1 = 6 of 9 pairs
    assert roc_auc(labels, scores) == pytest.approx(6 / 9)
    assert roc_auc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == 0.5
    assert roc_auc([True, False, True], [0.9, 0.1, 0.8]) == 1.0
    assert roc_auc([1, 0], [0.1, 0.9]) == 0.0


def test_roc_auc_matches_brute_force_on_many_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=60)
    scores = rng.integers(0, 6, size=60) / 5.0  # six distinct values: ties everywhere
    pos, neg = scores[labels == 1], scores[labels == 0]
    brute = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)])
    assert roc_auc(labels, scores) == pytest.approx(brute)


def test_top_k_accuracy():
    scores = [[0.1, 0.3, 0.6],
              [0.2, 0.5, 0.3],
              [0.7, 0.2, 0.1]]
    y_true = [2, 0, 1]  # ranks of the true class: 1st, 3rd, 2nd
    assert top_k_accuracy(y_true, scores, k=1) == pytest.approx(1 / 3)
    assert top_k_accuracy(y_true, scores, k=2) == pytest.approx(2 / 3)
    assert top_k_accuracy(y_true, scores, k=3) == 1.0
    # A tie at the boundary counts as a hit, like tf.math.in_top_k.
    assert top_k_accuracy([1], [[0.5, 0.5, 0.0]], k=1) == 1.0


def test_most_confused_pairs():
    confusion = [[5, 3, 0],
                 [1, 4, 2],
                 [0, 6, 1]]
    pairs = most_confused_pairs(confusion, ["a", "b", "c"], top=3)
    assert pairs == [{"true": "c", "predicted": "b", "count": 6},
                     {"true": "a", "predicted": "b", "count": 3},
                     {"true": "b", "predicted": "c", "count": 2}]
    assert most_confused_pairs(np.eye(3, dtype=int), ["a", "b", "c"]) == []  # all correct
    tied = most_confused_pairs(confusion_matrix(Y_TRUE, Y_PRED), NAMES, top=5)
    assert [(p["true"], p["predicted"]) for p in tied] == [("cat", "dog"), ("dog", "bird"), ("bird", "cat"),
                                                          ("fish", "cat")]


@pytest.mark.parametrize("call, message", [
    (lambda: confusion_matrix([], []), r"y_true is empty"),
    (lambda: confusion_matrix([0, 1], [0]), r"y_true has 2 labels but y_pred has 1"),
    (lambda: confusion_matrix([[0, 1]], [[0, 1]]), r"shape \(1, 2\); expected a 1-D"),
    (lambda: confusion_matrix([0.5], [0]), r"y_true holds float64 values; expected integer"),
    (lambda: confusion_matrix([0, -1], [0, 0]), r"negative label -1"),
    (lambda: confusion_matrix([0, 3], [0, 0], num_classes=3), r"label 3 found with num_classes=3"),
    (lambda: classification_report([], []), r"y_true is empty"),
    (lambda: classification_report([0, 1], [0, 1, 1]), r"y_true has 2 labels but y_pred has 3"),
    (lambda: classification_report([0, 2], [0, 1], class_names=["a", "b"]), r"label 2 found with num_classes=2"),
    (lambda: classification_report([0], [0], class_names=["a", "a"]), r"repeat a name"),
    (lambda: roc_auc([], []), r"y_true_binary is empty"),
    (lambda: roc_auc([1, 1], [0.2, 0.4]), r"2 positives and 0 negatives; ROC-AUC needs both"),
    (lambda: roc_auc([0, 2], [0.2, 0.4]), r"holds the label 2; expected only 0 and 1"),
    (lambda: roc_auc([0, 1], [0.2]), r"scores has shape \(1,\) but y_true_binary has \(2,\)"),
    (lambda: roc_auc([0, 1], [0.2, np.nan]), r"NaN or infinite"),
    (lambda: top_k_accuracy([], np.zeros((0, 3)), k=1), r"y_true is empty"),
    (lambda: top_k_accuracy([0], [[0.1, 0.9]], k=0), r"k=0 with 2 classes; expected 1 <= k <= 2"),
    (lambda: top_k_accuracy([0], [[0.1, 0.9]], k=3), r"k=3 with 2 classes"),
    (lambda: top_k_accuracy([0, 1], [[0.1, 0.9]], k=1), r"scores has shape \(1, 2\); expected \[2, num_classes\]"),
    (lambda: top_k_accuracy([5], [[0.1, 0.9]], k=1), r"label 5 but scores have 2 classes"),
    (lambda: most_confused_pairs([[1, 2]], ["a"]), r"shape \(1, 2\); expected a non-empty square"),
    (lambda: most_confused_pairs([[1, 2], [3, 4]], ["a"]), r"1 class_names for a \(2, 2\) confusion matrix"),
    (lambda: most_confused_pairs([[1, 2], [3, 4]], ["a", "b"], top=0), r"top=0; expected at least 1"),
])
def test_errors_say_what_was_received(call, message):
    with pytest.raises(TfbigError, match=message):
        call()
