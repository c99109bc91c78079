"""The final scores of a task whose data is a folder of class folders (``image``, ``audio``):
one example is ``(file path, class name)``, one row of logits per file."""


def folder_class_metrics(task, model, examples):
    """Accuracy, top-k accuracy (k = min(5, classes)), macro F1, per-class precision/recall/F1,
    the confusion matrix and its most confused class pairs on ``examples``; rows hold path,
    label, prediction and loss (nats).

    Keeps ``(examples, y_true, y_pred, report)`` as ``task._scored``, so that
    ``write_classification_plots`` draws these same scores without a second pass.

    Args:
        task: a :class:`tfbig.tasks.class_scores.ClassScoresTask` with ``labels`` and
            ``label_ids``.
        model: its model.
        examples: ``(path, class name)`` pairs.
    """
    import numpy as np

    from tfbig.scoring.classification import (classification_report, confusion_matrix,
                                                 most_confused_pairs, top_k_accuracy)

    logits = task.logits(model, examples)
    y_true = np.array([task.label_ids[label] for _, label in examples])
    y_pred = logits.argmax(axis=-1)
    log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    losses = -log_probs[np.arange(len(y_true)), y_true]
    report = classification_report(y_true, y_pred, class_names=task.labels)
    task._scored = (examples, y_true, y_pred, report)
    k = min(5, len(task.labels))
    matrix = confusion_matrix(y_true, y_pred, num_classes=len(task.labels))
    metrics = {
        "examples": len(examples),
        "accuracy": report["accuracy"],
        f"top_{k}_accuracy": top_k_accuracy(y_true, logits, k),
        "macro_f1": report["macro"]["f1"],
        "cross_entropy": float(losses.mean()),
        "chance_accuracy": 1.0 / len(task.labels),
        "per_class": report["classes"],
        "confusion_matrix": matrix.tolist(),
        "most_confused": most_confused_pairs(matrix, task.labels),
    }
    rows = [{"path": path, "label": label, "prediction": task.labels[prediction],
             "loss": float(loss)}
            for (path, label), prediction, loss in zip(examples, y_pred, losses)]
    return metrics, rows
