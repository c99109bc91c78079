"""Evaluating a trained run: the ``tfbig.evaluate`` report and the examples a model gets
most wrong.

- :mod:`tfbig.evaluation.report` — score a run folder on a data file (or its held-out
  split): ``eval/metrics.json``, predictions, plots.
- :mod:`tfbig.evaluation.error_analysis` — the examples a model gets most wrong.

The scores themselves (accuracy, F1, BLEU, chrF, perplexity) are :mod:`tfbig.scoring`.
"""
