"""Metrics for generated text: BLEU, chrF, exact match, token accuracy, perplexity.

BLEU and chrF come from ``sacrebleu`` (a dependency of tfbig), the reference implementation
papers report, so scores are comparable with published numbers.

Scales: ``corpus_bleu`` and ``corpus_chrf`` are on sacrebleu's 0–100 scale;
``exact_match`` and ``token_accuracy`` are fractions in [0, 1].
"""

import math

import numpy as np

from tfbig.errors import TfbigError


def _sacrebleu():
    import sacrebleu  # imported when scoring, not with the module: --help stays fast

    return sacrebleu


def _strings(values, name):
    if isinstance(values, str):
        raise TfbigError(f"{name} is a single string; expected a list of strings, one per example")
    values = list(values)
    if not values:
        raise TfbigError(f"{name} is empty; expected at least one string")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise TfbigError(f"{name}[{i}] is {type(value).__name__}; expected str")
    return values


def _reference_streams(hypotheses, references):
    """Turn per-hypothesis references into sacrebleu's streams.

    ``references[i]`` is one string or a list of strings (several acceptable outputs for
    hypothesis ``i``). sacrebleu wants the transpose: ``streams[r][i]`` = reference ``r``
    of hypothesis ``i``, every stream as long as ``hypotheses``.
    """
    hypotheses = _strings(hypotheses, "hypotheses")
    if isinstance(references, str):
        raise TfbigError(
            "references is a single string; "
            "expected a list with one entry per hypothesis"
        )
    references = list(references)
    if len(references) != len(hypotheses):
        raise TfbigError(
            f"{len(hypotheses)} hypotheses but {len(references)} references; "
            "expected one entry each"
        )
    per_example = [[ref] if isinstance(ref, str) else list(ref) for ref in references]
    counts = {len(refs) for refs in per_example}
    if len(counts) != 1 or 0 in counts:
        raise TfbigError(
            f"hypotheses have {sorted(counts)} references each; "
            "expected the same number (>= 1) for all"
        )
    for i, refs in enumerate(per_example):
        _strings(refs, f"references[{i}]")
    streams = [list(stream) for stream in zip(*per_example)]
    return hypotheses, streams


def corpus_bleu(hypotheses, references, lowercase=False):
    """Corpus-level BLEU, 0–100, exactly ``sacrebleu.corpus_bleu(hyps, streams).score``.

    BLEU = BP * exp(sum_{n=1..4} (1/4) log p_n), with p_n the clipped n-gram precision
    pooled over the whole corpus (not averaged per sentence) and the brevity penalty
    BP = min(1, exp(1 - r / c)) for total reference length r and hypothesis length c.
    sacrebleu's defaults apply: ``13a`` tokenisation, no lowercasing, no smoothing beyond
    its ``exp`` method.

    Args:
        hypotheses: N detokenised model outputs.
        references: N entries, each a reference string or a list of reference strings
            (the same number for every hypothesis).
        lowercase: case-fold both sides first (the score many tutorials report).

    Example:
        >>> corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"])
        100.00000000000004
    """
    hypotheses, streams = _reference_streams(hypotheses, references)
    return float(_sacrebleu().corpus_bleu(hypotheses, streams, lowercase=lowercase).score)


def translation_scores(hypotheses, references):
    """BLEU as the field reports it: cased (sacrebleu's default), lower-cased, chrF, and
    sacrebleu's signatures, which say exactly how each was computed.

    Example:
        >>> scores = translation_scores(["The cat."], ["the cat."])
        >>> scores["bleu"] < scores["bleu_lowercase"] == 100.0
        True
        >>> scores["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
        True
    """
    sacrebleu = _sacrebleu()
    hypotheses, streams = _reference_streams(hypotheses, references)
    scores = {}
    for name, metric in (("bleu", sacrebleu.metrics.BLEU()),
                         ("bleu_lowercase", sacrebleu.metrics.BLEU(lowercase=True)),
                         ("chrf", sacrebleu.metrics.CHRF())):
        scores[name] = float(metric.corpus_score(hypotheses, streams).score)
        scores[f"{name}_signature"] = str(metric.get_signature())
    return scores


def corpus_chrf(hypotheses, references):
    """Corpus-level chrF (character n-gram F-score, beta = 2), 0–100, as sacrebleu computes it.

    chrF = (1 + beta^2) chrP chrR / (beta^2 chrP + chrR), with character 1- to 6-gram
    precision chrP and recall chrR; beta = 2 weighs recall twice as much. More forgiving
    than BLEU of inflection and spelling differences.

    Args:
        hypotheses, references: as for :func:`corpus_bleu`.
    """
    hypotheses, streams = _reference_streams(hypotheses, references)
    return float(_sacrebleu().corpus_chrf(hypotheses, streams).score)


def exact_match(hypotheses, references):
    """Fraction of hypotheses equal to their reference after stripping surrounding whitespace.

    Example:
        >>> exact_match(["yes ", "no"], ["yes", "maybe"])
        0.5
    """
    hypotheses = _strings(hypotheses, "hypotheses")
    references = _strings(references, "references")
    if len(hypotheses) != len(references):
        raise TfbigError(
            f"{len(hypotheses)} hypotheses but {len(references)} references; "
            "expected one each"
        )
    return sum(h.strip() == r.strip() for h, r in zip(hypotheses, references)) / len(hypotheses)


def token_accuracy(pred_ids, true_ids, pad_id=0):
    """Fraction of non-padding target positions where the predicted token id is right.

        accuracy = sum_i [pred_i = true_i and true_i != pad] / sum_i [true_i != pad]

    Padding is judged on ``true_ids`` only, so predicting anything at a padded position
    neither helps nor hurts.

    Args:
        pred_ids: integer ids, e.g. ``argmax(logits, -1)``, shape ``[batch, length]``.
        true_ids: integer ids of the same shape.
        pad_id: the id that marks padding (tfbig uses 0).

    Example:
        >>> token_accuracy([[5, 6, 9]], [[5, 7, 0]])
        0.5
    """
    pred_ids, true_ids = np.asarray(pred_ids), np.asarray(true_ids)
    if pred_ids.shape != true_ids.shape:
        raise TfbigError(
            f"pred_ids has shape {pred_ids.shape} but true_ids has {true_ids.shape}; "
            "expected the same"
        )
    if true_ids.size == 0:
        raise TfbigError("true_ids is empty; expected at least one token id")
    mask = true_ids != pad_id
    if not mask.any():
        raise TfbigError(
            f"true_ids has no token other than padding (pad_id={pad_id}); "
            "expected at least one"
        )
    return float((pred_ids == true_ids)[mask].mean())


def perplexity(mean_cross_entropy):
    """exp(CE): the effective number of equally likely tokens the model hesitates between.

        PPL = exp(-(1/T) sum_t log p(x_t | x_<t)) = exp(CE)

    ``mean_cross_entropy`` must be the mean over the *non-padding* target tokens, in nats
    (natural log, as Keras' ``SparseCategoricalCrossentropy`` computes it). A loss in bits
    would need ``2 ** CE`` instead; a mean that includes padding understates perplexity.

    Example:
        >>> round(perplexity(math.log(50.0)), 6)
        50.0
    """
    try:
        ce = float(mean_cross_entropy)
    except (TypeError, ValueError):
        raise TfbigError(
            f"mean_cross_entropy is {mean_cross_entropy!r}; "
            "expected a number"
        ) from None
    if math.isnan(ce) or ce < 0:
        raise TfbigError(f"mean_cross_entropy is {ce}; expected a cross-entropy >= 0 (nats)")
    return math.exp(ce) if ce < 709.0 else math.inf  # exp overflows a float64 above ~709.78
