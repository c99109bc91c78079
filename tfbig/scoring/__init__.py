"""Scores of predictions against references, from plain NumPy arrays and strings.

Nothing here imports TensorFlow: a score takes the labels, scores or strings a model
produced and returns Python numbers (or dicts of them), ready for ``metrics.json``. It sits
at the bottom of tfbig (``docs/architecture.md``): tasks score their outputs with it, the
epoch-end metrics of training report it, and ``tfbig.evaluation`` writes it up.

- :mod:`tfbig.scoring.classification` — confusion matrix, precision/recall/F1 report,
  ROC-AUC, top-k accuracy, the most confused class pairs.
- :mod:`tfbig.scoring.text` — corpus BLEU and chrF (via ``sacrebleu``), exact match,
  token accuracy, perplexity.
"""
