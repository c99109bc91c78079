"""The run folder: the hand-off between train, predict, evaluate, export and finetune.

Layout (../shared/CONTRACT.md): ``config.json``, ``model.keras``, ``checkpoints/``,
``backup/``, ``history.csv``, ``metrics.json``, ``tensorboard/``, ``plots/`` and the task's
tokenizer folders. Files are written atomically (temp name, then ``os.replace``), so an
interrupted run never leaves a half-written file under a final name.
"""

import json
import os
import shutil

from tfbig.errors import TfbigError

CONFIG = "config.json"
MODEL = "model.keras"
METRICS = "metrics.json"
HISTORY = "history.csv"
BACKUP = "backup"
PLOTS = "plots"
# What a run writes, and so what --overwrite may delete (nothing else in the folder).
RUN_ENTRIES = (CONFIG, MODEL, METRICS, HISTORY, BACKUP, PLOTS, "checkpoints", "tensorboard",
               "eval", "source_tokenizer", "target_tokenizer", "tokenizer", "labels.json",
               "unigram_counts.json")


def write_json(path, value):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise TfbigError(f"{path}: missing") from None
    except json.JSONDecodeError as error:
        raise TfbigError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None


def save_model(model, run_dir):
    """Save ``model.keras`` atomically (Keras insists on the .keras suffix, so the temp
    file is ``model.partial.keras``)."""
    partial = os.path.join(run_dir, "model.partial.keras")
    model.save(partial)
    os.replace(partial, os.path.join(run_dir, MODEL))


def run_state(run_dir):
    """``"new"`` (nothing there), ``"interrupted"`` (a backup to resume from),
    ``"finished"`` (a final model), or ``"incomplete"`` (started, nothing to resume)."""
    if not os.path.exists(run_dir):
        return "new"
    if not os.path.isdir(run_dir):
        raise TfbigError(f"--output {run_dir}: exists and is not a folder")
    if os.path.isdir(os.path.join(run_dir, BACKUP)):
        return "interrupted"
    if os.path.exists(os.path.join(run_dir, MODEL)):
        return "finished"
    if any(os.path.exists(os.path.join(run_dir, entry)) for entry in RUN_ENTRIES):
        return "incomplete"
    return "new"


def remove_entries(folder, entries):
    """Delete the files and folders named ``entries`` from ``folder`` (those that exist)."""
    for entry in entries:
        path = os.path.join(folder, entry)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def clear_run(run_dir):
    """Delete what a previous run wrote (and only that) from ``run_dir``."""
    remove_entries(run_dir, RUN_ENTRIES)


def require_run(run_dir):
    """Check that ``run_dir`` holds a finished run; return its config dict."""
    if not os.path.isdir(run_dir):
        raise TfbigError(f"--run {run_dir}: no such run folder (expected the --output folder "
                         f"of a finished 'python -m tfbig.train')")
    for entry in (CONFIG, MODEL):
        if not os.path.exists(os.path.join(run_dir, entry)):
            raise TfbigError(f"--run {run_dir}: no {entry} in it (expected the --output "
                             f"folder of a finished 'python -m tfbig.train')")
    return read_json(os.path.join(run_dir, CONFIG))
