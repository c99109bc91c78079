"""What ``tfbig.evaluate`` writes to explain a text classifier's first few predictions.

For each of the first ``count`` examples, ``explanations/example_{i}.png``: its word pieces
coloured by their integrated-gradients attribution to the predicted label and, for BERT, by
the attention rollout from [CLS] (one PNG per example: a full ``T x T`` rollout matrix per
example made evaluate several seconds slower on a CPU). And one self-contained
``explanations.html`` (no scripts, no links, no images: coloured text) with every example's
attributions, its [CLS] rollout row and the completeness error of its attributions.
"""

import html
import os

import numpy as np

from tfbig import plots
from tfbig.evaluation.attention_rollout import classifier_rollout
from tfbig.evaluation.attributions import explain_texts

FOLDER = "explanations"
PAGE = "explanations.html"
# Trapezoid intervals. Completeness error, worst of 8 examples of a trained tiny BERT: 3.5 %
# of F(x) - F(x') at 32 steps, 0.2 % at 128 (docs/interpretability.md); 32 keeps evaluate fast.
STEPS = 32


def _spans(tokens, scores):
    """Tokens as HTML spans on a red (for) / blue (against) background, one scale."""
    limit = max(float(np.abs(scores).max()), 1e-9)
    spans = []
    for token, score in zip(tokens, scores):
        alpha = abs(float(score)) / limit
        colour = "220,50,40" if score > 0 else "40,90,220"
        spans.append(f'<span style="background:rgba({colour},{alpha:.2f})" '
                     f'title="{score:+.4f}">{html.escape(token)}</span>')
    return " ".join(spans)


def _section(index, explained, labels, rollout):
    text, label = labels
    result = explained.result
    rows = [f"<h2>Example {index}</h2>",
            f"<p>{html.escape(text)}</p>",
            f"<p>label <b>{html.escape(label)}</b>, predicted "
            f"<b>{html.escape(explained.label)}</b>; logit {result.logit:+.4f}, baseline "
            f"{result.baseline_logit:+.4f}, sum of attributions "
            f"{result.attributions.sum():+.4f} (completeness error "
            f"{result.completeness_error:.2e})</p>",
            f"<p>integrated gradients: {_spans(explained.tokens, explained.scores)}</p>"]
    if rollout is not None:
        rows.append(f"<p>attention rollout from [CLS]: "
                    f"{_spans(explained.tokens, rollout[0])}</p>")
    return "\n".join(rows)


def write_explanations(task, model, examples, folder, *, count=8, steps=STEPS):
    """Write the PNGs and the HTML page for the first ``count`` ``(text, label)`` examples
    into ``folder``; return the written paths."""
    examples = list(examples[:count])
    if not examples:
        return []
    os.makedirs(os.path.join(folder, FOLDER), exist_ok=True)
    explained = explain_texts(task, model, [text for text, _ in examples], steps=steps)
    paths, sections = [], []
    for index, (example, item) in enumerate(zip(examples, explained)):
        inputs = {"token_ids": item.ids, "padding_mask": np.ones(len(item.ids), bool)}
        rollout = classifier_rollout(model, inputs)  # (n, n), None without attention
        panels = {f"integrated gradients for '{item.label}' (red: for, blue: against)":
                  item.scores}
        if rollout is not None:
            panels["attention rollout from [CLS]"] = rollout[0]
        paths.append(plots.plot_token_scores(
            item.tokens, panels, os.path.join(folder, FOLDER, f"example_{index}.png"),
            title=f"Example {index}: why '{item.label}'"))
        sections.append(_section(index, item, example, rollout))
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<title>Explanations</title></head><body>\n<h1>Why the model chose its labels"
            "</h1>\n<p>Integrated gradients (zero-embedding baseline, "
            f"{steps} trapezoid steps): red tokens push towards the predicted label, blue "
            "ones away. Hover a token for its score.</p>\n"
            + "\n".join(sections) + "\n</body></html>\n")
    path = os.path.join(folder, PAGE)
    _write(path, page)
    return [*paths, path]


def _write(path, text):
    """Write ``text`` to ``path`` atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
