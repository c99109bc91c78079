"""A search's results: ``results.csv`` (one row per trial) and ``scores.png``.

Columns of ``results.csv``: ``trial``, ``status`` (keras-tuner's: COMPLETED, FAILED, …,
RUNNING for a trial that was interrupted), one column per tuned config key (and Hyperband's
``tuner/epochs``, ``tuner/bracket``, ``tuner/round``), ``fold_0`` … ``fold_{K-1}`` (the
monitored metric of each fold, at its best epoch), ``mean``, ``std`` (over folds,
population std), ``seconds`` (training time summed over folds) and ``error``.
"""

import csv
import math
import os

from tfbig.plots import _new_figure, _save  # the plots' Agg canvas and atomic PNG writer


def write_results_csv(rows, path):
    """Write ``rows`` (dicts with the same keys) as CSV, atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["trial"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def scores_figure(rows, monitor, mode):
    """Mean score per trial (± std over folds as error bars), the best trial marked."""
    figure = _new_figure(8, 5)
    ax = figure.add_subplot()
    done = [(i, row) for i, row in enumerate(rows) if row["mean"] != ""]
    if done:
        xs = [i for i, _ in done]
        means = [row["mean"] for _, row in done]
        stds = [row["std"] or 0.0 for _, row in done]
        ax.errorbar(xs, means, yerr=stds, fmt="o", capsize=3, label="trial (mean ± std)")
        best = (min if mode == "min" else max)(range(len(means)), key=means.__getitem__)
        ax.plot([xs[best]], [means[best]], "*", markersize=16, color="tab:red",
                label=f"best: trial {done[best][1]['trial']}")
        ax.legend(loc="best")
    failed = [i for i, row in enumerate(rows) if row["mean"] == ""]
    for i in failed:
        ax.axvline(i, color="0.85", linewidth=1, zorder=0)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([row["trial"] for row in rows], rotation=90 if len(rows) > 12 else 0,
                       fontsize="small")
    ax.set_xlabel("trial" + (" (grey: failed or not finished)" if failed else ""))
    ax.set_ylabel(f"{monitor} ({'lower' if mode == 'min' else 'higher'} is better)")
    ax.set_title(f"{monitor} per trial")
    ax.grid(alpha=0.3)
    return figure


def plot_scores(rows, monitor, mode, path):
    return _save(scores_figure(rows, monitor, mode), path)


def trial_row(trial_id, status, values, record, folds):
    """One ``results.csv`` row: a trial's values (config key → value), and the fold
    scores, seconds and error of its tfbig record."""
    scores = [record["folds"].get(str(fold), {}).get("score") for fold in range(folds)]
    complete = all(score is not None and not math.isnan(score) for score in scores)
    mean = sum(scores) / folds if complete else ""
    std = (math.sqrt(sum((s - mean) ** 2 for s in scores) / folds) if complete else "")
    seconds = sum(fold.get("seconds", 0.0) for fold in record["folds"].values())
    return {"trial": trial_id, "status": status, **values,
            **{f"fold_{fold}": "" if score is None else score
               for fold, score in enumerate(scores)},
            "mean": mean, "std": std, "seconds": round(seconds, 1),
            "error": record.get("error", "")}
