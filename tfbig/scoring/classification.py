"""Classification metrics in NumPy, with scikit-learn's definitions.

Labels are integer class indices ``0 .. C-1``; ``class_names[i]`` names class ``i``. For
class ``c`` count over the ``N`` examples:

    TP_c = #{y_true = c and y_pred = c}      FP_c = #{y_true != c and y_pred = c}
    FN_c = #{y_true = c and y_pred != c}     support_c = TP_c + FN_c

    precision_c = TP_c / (TP_c + FP_c)       recall_c = TP_c / (TP_c + FN_c)
    F1_c = 2 precision_c recall_c / (precision_c + recall_c) = 2 TP_c / (2 TP_c + FP_c + FN_c)

Zero division: a ratio whose denominator is 0 (a class never predicted has no precision, a
class absent from ``y_true`` has no recall) is reported as 0, exactly like scikit-learn's
``zero_division=0``, so no NaN ever reaches ``metrics.json``.

Averages over the C classes:
    macro    = plain mean of the per-class values (every class weighs the same);
    weighted = mean weighted by support_c;
    micro    = the ratio of the summed counts, e.g. sum TP / (sum TP + sum FP). With one label
               per example, micro precision = micro recall = micro F1 = accuracy.
"""

import numpy as np

from tfbig.errors import TfbigError


def _labels(values, name):
    """``values`` as a non-empty 1-D int64 array of class indices (≥ 0)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise TfbigError(
            f"{name} has shape {array.shape}; "
            "expected a 1-D sequence of class indices"
        )
    if array.size == 0:
        raise TfbigError(f"{name} is empty; expected at least one label")
    if array.dtype.kind not in "biu":
        if array.dtype.kind != "f" or not np.all(array == np.round(array)):
            raise TfbigError(f"{name} holds {array.dtype} values; expected integer class indices")
    array = array.astype(np.int64)
    if array.min() < 0:
        raise TfbigError(
            f"{name} holds the negative label {array.min()}; "
            "expected class indices >= 0"
        )
    return array


def _label_pair(y_true, y_pred):
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise TfbigError(
            f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}; "
            "expected the same number"
        )
    return y_true, y_pred


def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts ``M[i, j]`` = number of examples of true class ``i`` predicted as class ``j``.

    Rows are true classes, columns predicted classes (scikit-learn's layout), so the
    diagonal holds the correct predictions and ``M.sum(axis=1)`` is each class's support.

    Args:
        y_true, y_pred: 1-D integer class indices of the same length.
        num_classes: C; default ``max(label) + 1`` over both arrays.

    Returns:
        int64 array ``[C, C]``.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0]).tolist()
        [[1, 0], [1, 1]]
    """
    y_true, y_pred = _label_pair(y_true, y_pred)
    largest = int(max(y_true.max(), y_pred.max()))
    if num_classes is None:
        num_classes = largest + 1
    elif largest >= num_classes:
        raise TfbigError(
            f"label {largest} found with num_classes={num_classes}; "
            "expected labels below num_classes"
        )
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)  # one += 1 per example, repeated indices counted
    return matrix


def _safe_divide(numerator, denominator):
    """numerator / denominator, with 0 where the denominator is 0 (``zero_division=0``)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


def classification_report(y_true, y_pred, class_names=None):
    """Accuracy, per-class precision/recall/F1/support and their macro/micro/weighted averages.

    Classes are ``0 .. C-1`` with C = ``len(class_names)`` (default: ``max(label) + 1``, named
    ``"0"``, ``"1"``, ...). Every one of the C classes counts in the averages, even one absent
    from both arrays (its scores are 0), as with scikit-learn's ``labels=range(C)``.

    Returns:
        A JSON-ready dict::

            {"accuracy": float, "num_examples": int,
             "classes": {name: {"precision", "recall", "f1", "support"}},
             "macro": {"precision", "recall", "f1"}, "micro": {...}, "weighted": {...}}

    Example:
        >>> report = classification_report([0, 0, 1], [0, 1, 1], class_names=["cat", "dog"])
        >>> report["classes"]["dog"]["precision"], report["accuracy"]
        (0.5, 0.6666666666666666)
    """
    y_true, y_pred = _label_pair(y_true, y_pred)
    if class_names is None:
        class_names = [str(c) for c in range(int(max(y_true.max(), y_pred.max())) + 1)]
    class_names = [str(name) for name in class_names]
    if len(set(class_names)) != len(class_names):
        raise TfbigError(
            f"class_names {class_names} repeat a name; "
            "expected one distinct name per class"
        )
    matrix = confusion_matrix(y_true, y_pred, num_classes=len(class_names))

    true_positive = np.diag(matrix).astype(np.float64)
    false_positive = matrix.sum(axis=0) - true_positive  # column total minus the diagonal
    false_negative = matrix.sum(axis=1) - true_positive  # row total minus the diagonal
    support = matrix.sum(axis=1)

    precision = _safe_divide(true_positive, true_positive + false_positive)
    recall = _safe_divide(true_positive, true_positive + false_negative)
    f1 = _safe_divide(2 * true_positive, 2 * true_positive + false_positive + false_negative)

    tp, fp, fn = true_positive.sum(), false_positive.sum(), false_negative.sum()
    weights = support / support.sum()
    return {
        "accuracy": float(tp / len(y_true)),
        "num_examples": int(len(y_true)),
        "classes": {
            name: {
                "precision": float(precision[c]),
                "recall": float(recall[c]),
                "f1": float(f1[c]),
                "support": int(support[c]),
            }
            for c, name in enumerate(class_names)
        },
        "macro": {
            "precision": float(precision.mean()),
            "recall": float(recall.mean()),
            "f1": float(f1.mean()),
        },
        "micro": {
            "precision": float(_safe_divide(tp, tp + fp)),
            "recall": float(_safe_divide(tp, tp + fn)),
            "f1": float(_safe_divide(2 * tp, 2 * tp + fp + fn)),
        },
        "weighted": {
            "precision": float(weights @ precision),
            "recall": float(weights @ recall),
            "f1": float(weights @ f1),
        },
    }


def roc_auc(y_true_binary, scores):
    """Area under the ROC curve, computed from ranks (the Mann–Whitney U statistic).

    AUC is the probability that a random positive scores above a random negative, a tie
    counting one half:

        AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)

    where R_pos is the sum of the positives' ranks among all scores (1 = lowest), tied
    scores sharing the mean of their ranks. This equals the trapezoidal area under the ROC
    curve, as ``sklearn.metrics.roc_auc_score`` computes it.

    Args:
        y_true_binary: 1-D labels, 1/True = positive, 0/False = negative; both must occur.
        scores: 1-D real scores of the same length, higher = more positive.

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    labels = _labels(y_true_binary, "y_true_binary")
    if labels.max() > 1:
        raise TfbigError(f"y_true_binary holds the label {labels.max()}; expected only 0 and 1")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != labels.shape:
        raise TfbigError(
            f"scores has shape {scores.shape} but y_true_binary has {labels.shape}; "
            "expected the same"
        )
    if not np.all(np.isfinite(scores)):
        raise TfbigError("scores hold NaN or infinite values; expected finite numbers")
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise TfbigError(
            f"y_true_binary has {n_pos} positives and {n_neg} negatives; "
            "ROC-AUC needs both"
        )

    # Mid-ranks: the k-th distinct value (sorted), seen count_k times, holds ranks
    # (end_k - count_k + 1) .. end_k, whose mean is end_k - (count_k - 1) / 2.
    distinct, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]
    rank_sum_positive = ranks[labels == 1].sum()
    return float((rank_sum_positive - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def top_k_accuracy(y_true, scores, k):
    """Fraction of examples whose true class is among the ``k`` highest-scoring classes.

    Ties follow Keras' ``SparseTopKCategoricalAccuracy`` (``tf.math.in_top_k``), so this
    matches the number logged during training: example ``i`` counts as correct when fewer
    than ``k`` classes score *strictly* higher than its true class.

    Args:
        y_true: 1-D integer class indices, length N.
        scores: ``[N, C]`` scores (logits or probabilities).
        k: 1 ≤ k ≤ C.

    Example:
        >>> top_k_accuracy([2, 0], [[0.1, 0.3, 0.6], [0.2, 0.5, 0.3]], k=2)
        0.5
    """
    y_true = _labels(y_true, "y_true")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] != len(y_true):
        raise TfbigError(
            f"scores has shape {scores.shape}; "
            f"expected [{len(y_true)}, num_classes] to match y_true"
        )
    num_classes = scores.shape[1]
    if not 1 <= k <= num_classes:
        raise TfbigError(f"k={k} with {num_classes} classes; expected 1 <= k <= {num_classes}")
    if y_true.max() >= num_classes:
        message = f"y_true holds the label {y_true.max()} but scores have {num_classes} classes"
        raise TfbigError(f"{message}; expected labels below {num_classes}")
    true_scores = scores[np.arange(len(y_true)), y_true]  # (N,)
    higher = (scores > true_scores[:, None]).sum(axis=1)  # (N,) classes beating the true one
    return float(np.mean(higher < k))


def most_confused_pairs(confusion, class_names, top=5):
    """The ``top`` largest off-diagonal cells of a confusion matrix, largest first.

    Args:
        confusion: ``[C, C]`` counts, rows = true class, columns = predicted class.
        class_names: C names.
        top: how many pairs at most; cells with count 0 are never listed.

    Returns:
        ``[{"true": name, "predicted": name, "count": int}, ...]``; equal counts keep
        row-major order.

    Example:
        >>> most_confused_pairs([[5, 2], [0, 3]], ["cat", "dog"])
        [{'true': 'cat', 'predicted': 'dog', 'count': 2}]
    """
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or confusion.size == 0:
        raise TfbigError(
            f"confusion has shape {confusion.shape}; "
            "expected a non-empty square [C, C] matrix"
        )
    if len(class_names) != confusion.shape[0]:
        raise TfbigError(
            f"{len(class_names)} class_names for a {confusion.shape} confusion matrix; "
            f"expected {confusion.shape[0]}"
        )
    if top < 1:
        raise TfbigError(f"top={top}; expected at least 1")
    num_classes = len(confusion)
    off_diagonal = np.where(np.eye(num_classes, dtype=bool), 0, confusion)  # mistakes only
    flat = off_diagonal.ravel()  # cell (i, j) -> i * C + j
    order = np.argsort(-flat, kind="stable")[:top]  # stable: ties stay row-major
    return [
        {
            "true": str(class_names[index // num_classes]),
            "predicted": str(class_names[index % num_classes]),
            "count": int(flat[index]),
        }
        for index in order
        if flat[index] > 0
    ]
