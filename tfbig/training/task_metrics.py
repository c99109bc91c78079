"""Validation metrics that Keras' compiled metrics cannot give, computed at each epoch end.

Keras metrics are updated batch by batch inside the compiled test step, on tensors. Two
kinds of score do not fit that mould:

- **BLEU / chrF** (translate) score *decoded strings*: they need the autoregressive
  generation loop, which runs outside the train graph, and corpus-level n-gram counts.
- **Macro F1, precision, recall** (classify, image) are ratios of counts over the *whole*
  split; the mean of per-batch F1s is not the F1 of the set. (Keras' ``F1Score``
  accumulates counts correctly but wants one-hot labels and probabilities, where the tasks
  feed sparse labels and logits.)

:class:`TaskMetrics` runs a scorer at each epoch end and writes its values into ``logs``
as ``val_<name>`` — so they reach ``history.csv``, ``History``, TensorBoard and the plots,
and ``train.monitor`` can pick the best checkpoint, stop early or cut the rate on them.
The scorers reuse the tasks' own code (``logits``, ``predict_texts``) and
``tfbig.evaluation``'s metrics, so an epoch-end score and the same score in
``metrics.json`` are computed the same way.

Cost: classification is one extra forward pass over the validation split. Translation
greedy-decodes the first ``train.epoch_metrics_examples`` validation pairs (the same ones
every epoch, so the curve compares like with like); the decoding loop is compiled once.
"""

import time

import keras
import numpy as np


class TaskMetrics(keras.callbacks.Callback):
    """Add ``val_<name>`` values from ``scorer(model)`` to the logs at each epoch end.

    Place it before the callbacks that read the logs (``standard_callbacks`` does).

    Args:
        scorer: ``model -> {name: float}``; e.g. :class:`ClassificationScorer` or
            :class:`TranslationScorer`.
        prefix: put before every name (``"val_"``: the scores are on validation data).

    Attributes:
        seconds: wall-clock seconds each epoch's scoring took (what the callback costs).

    Example:
        >>> import numpy as np
        >>> model = keras.Sequential([keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> count = TaskMetrics(lambda model: {"weights": len(model.weights)})
        >>> history = model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0,
        ...                     callbacks=[count])
        >>> history.history["val_weights"]
        [2.0]
    """

    def __init__(self, scorer, prefix="val_"):
        super().__init__()
        self.scorer = scorer
        self.prefix = prefix
        self.seconds = []

    def on_epoch_end(self, epoch, logs=None):
        started = time.perf_counter()
        scores = self.scorer(self.model)
        self.seconds.append(time.perf_counter() - started)
        if logs is not None:
            logs.update({self.prefix + name: float(value) for name, value in scores.items()})


class ClassificationScorer:
    """Macro-averaged F1, precision and recall over *all* of ``examples``.

    Args:
        task: a classify or image task with its labels learnt (``logits``, ``label_ids``).
        examples: ``(input, label)`` pairs, e.g. the validation split.
    """

    names = ("macro_f1", "macro_precision", "macro_recall")

    def __init__(self, task, examples):
        self.task = task
        self.examples = examples
        self.y_true = np.array([task.label_ids[label] for _, label in examples])

    def __call__(self, model):
        from tfbig.scoring.classification import classification_report

        y_pred = self.task.logits(model, self.examples).argmax(axis=-1)
        macro = classification_report(self.y_true, y_pred, class_names=self.task.labels)["macro"]
        return {f"macro_{score}": macro[score] for score in ("f1", "precision", "recall")}


class TranslationScorer:
    """Corpus BLEU and chrF (sacrebleu, 0–100) and exact match of greedy-decoded outputs.

    Args:
        task: a translate task with its tokenizers (``predict_texts``).
        pairs: ``(source, target)`` pairs; the first ``max_examples`` are decoded.
        max_examples: how many pairs to decode each time (decoding dominates the cost).
        batch_size: sources decoded per call of the compiled generation loop; the
            default is ``predict_texts``' own, so the loop compiled here (once, cached on
            the model) is the one the final metrics reuse.
    """

    names = ("bleu", "chrf", "exact_match")

    def __init__(self, task, pairs, max_examples, batch_size=64):
        import tensorflow as tf

        from tfbig.data.text_normalization import normalize_text

        pairs = pairs[:max_examples]
        self.task = task
        self.sources = [source for source, _ in pairs]
        self.batch_size = batch_size
        # References normalised as the target tokenizer normalises its input, exactly as
        # TranslateTask.final_metrics does (else case or NFKC differences count as errors).
        tokenizer = task.target_tokenizer
        normalized = normalize_text(tf.constant([target for _, target in pairs]),
                                    form=tokenizer.normalization,
                                    lower_case=tokenizer.lower_case,
                                    strip_accents=tokenizer.strip_accents)
        self.references = [text.decode("utf-8") for text in normalized.numpy()]

    def __call__(self, model):
        from tfbig.scoring.text import corpus_bleu, corpus_chrf, exact_match

        # warn=False: the validation split's cut sources were reported before training.
        predictions = self.task.predict_texts(model, self.sources, batch_size=self.batch_size,
                                              warn=False)
        return {"bleu": corpus_bleu(predictions, self.references),
                "chrf": corpus_chrf(predictions, self.references),
                "exact_match": exact_match(predictions, self.references)}


def task_metrics_callback(task, validation, max_examples):
    """The epoch-end metrics callback of ``task`` on the ``validation`` examples (its
    ``epoch_scorer``), or None where the task has none (lm, mlm) or ``max_examples`` is 0
    (``train.epoch_metrics_examples``).

    ``max_examples`` caps the decoded (translate) examples; classification always scores
    the whole split, a forward pass being cheap next to decoding.
    """
    if not max_examples or not validation:
        return None
    scorer = task.epoch_scorer(validation, max_examples)
    if scorer is None:
        return None
    # The config checks train.monitor against the task's epoch_metrics: same names.
    assert tuple("val_" + name for name in scorer.names) == task.epoch_metrics
    return TaskMetrics(scorer)
