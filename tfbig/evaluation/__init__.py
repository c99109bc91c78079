"""Metrics computed over a whole evaluation set, from plain NumPy arrays and strings.

Nothing here imports TensorFlow: a metric takes the labels, scores or strings a model
produced and returns Python numbers (or dicts of them), ready for ``metrics.json``.

- :mod:`tfbig.evaluation.classification` — confusion matrix, precision/recall/F1 report,
  ROC-AUC, top-k accuracy, the most confused class pairs.
- :mod:`tfbig.evaluation.text` — corpus BLEU and chrF (via ``sacrebleu``), exact match,
  token accuracy, perplexity.
- :mod:`tfbig.evaluation.error_analysis` — the examples a model gets most wrong.
"""
