"""Evaluate a finished run on a data file: metrics, per-example predictions, plots.

Writes into ``RUN_DIR/eval/`` (or ``--output``): ``metrics.json``, ``predictions.tsv``
(one row per example, in input order), ``worst_examples.tsv`` (highest loss first) and the
task's plots; for a text classifier also ``explanations.html`` and ``explanations/*.png``
(token attributions and attention rollout of the first examples).
"""

import csv
import os
import sys

from tfbig import run_folder
from tfbig.data.sources import BadLineReport
from tfbig.evaluation.error_analysis import worst_examples


def _write_rows(rows, path):
    """TSV with a header, written atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def held_out_examples(task):
    """The run's own test split (else validation): the examples its metrics.json scored."""
    splits, _ = task.load_splits()
    return ("test", splits["test"]) if splits["test"] else ("validation", splits["validation"])


def evaluate_run(run_dir, data_path=None, *, output_dir=None, skip_bad_lines=False,
                 worst=20):
    """Score ``run_dir`` on ``data_path`` (default: the run's held-out test split).

    With ``skip_bad_lines`` malformed lines of ``data_path`` are skipped, reported on stderr
    and counted as ``skipped_lines`` in the metrics.

    Returns ``(metrics, output_dir)``.
    """
    from tfbig.inference import load_run_model, run_task

    task = run_task(run_dir)  # the data is read and checked before TensorFlow loads
    report = BadLineReport()
    if data_path:
        source, examples = data_path, task.read_examples(
            data_path, skip_bad_lines=skip_bad_lines, report=report)
    else:
        source, examples = held_out_examples(task)
    model = load_run_model(task, run_dir)
    if report.skipped:
        print(report, file=sys.stderr, flush=True)  # progress channel, as training does
    metrics, rows = task.final_metrics(model, examples)
    metrics = {"data": source, **metrics}
    if report.skipped:
        metrics["skipped_lines"] = report.skipped

    output_dir = output_dir or os.path.join(run_dir, "eval")
    os.makedirs(output_dir, exist_ok=True)
    _write_rows(rows, os.path.join(output_dir, "predictions.tsv"))
    ranked = worst_examples([row["loss"] for row in rows], rows, n=worst)
    _write_rows([row["example"] for row in ranked], os.path.join(output_dir,
                                                                  "worst_examples.tsv"))
    task.write_plots(model, examples, output_dir)
    if task.explainable:  # why the first few labels: attributions, rollout
        from tfbig.evaluation.explanations import write_explanations

        write_explanations(task, model, examples, output_dir)
    run_folder.write_json(os.path.join(output_dir, "metrics.json"), metrics)
    return metrics, output_dir
