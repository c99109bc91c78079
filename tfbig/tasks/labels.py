"""Class labels of the classify and image tasks: learnt from the training split, saved as
``labels.json`` in the run folder, checked against every other split.

Labels are strings as the data writes them (a TSV/CSV label column, an image class folder).
The label set is sorted (numerically when every label is an integer, so ``"10"`` follows
``"9"``) and class ``i`` is ``labels[i]``: star ratings ``1 … 5`` become classes ``0 … 4``
and predictions print ``1 … 5`` again.
"""

import json
import os

from tfbig.data.sources import unknown_label_message
from tfbig.errors import TfbigError

LABELS_FILE = "labels.json"


def _is_integer(label):
    return label.lstrip("-").isdigit()


def learn_labels(labels):
    """The sorted, distinct labels; at least two are needed to classify anything."""
    names = set(labels)
    key = (lambda name: (int(name), name)) if all(map(_is_integer, names)) else None
    names = sorted(names, key=key)
    if len(names) < 2:
        found = f" ({names[0]!r})" if names else ""
        raise TfbigError(f"the training split has {len(names)} distinct label{found}; "
                         f"expected at least 2 classes to learn from")
    return names


def check_labels(labels, known, where):
    """Raise a :class:`TfbigError` for the first label of ``labels`` not in ``known``.

    Args:
        labels: the labels of a split or a data file.
        known: the run's labels (e.g. learnt from the training split).
        where: names the examples in the message, e.g. ``"the validation split of x.tsv"``.
    """
    known_set = set(known)
    for label in labels:
        if label not in known_set:
            raise TfbigError(unknown_label_message(where, label, known))


def check_split_labels(splits, label_of, data_path, val_path="", line_of=None):
    """Check that the validation and test splits only hold labels seen in training.

    Runs before TensorFlow is imported or the run folder is touched.

    Args:
        line_of: ``(path, example) -> line number`` (or ``None``) for data files, so that the
            error names the file and line of the first example with an unknown label.
    """
    known = learn_labels(label_of(example) for example in splits["train"])
    known_set = set(known)
    for split in ("validation", "test"):
        from_val_file = split == "validation" and val_path
        path = val_path if from_val_file else data_path
        for example in splits[split]:
            label = label_of(example)
            if label in known_set:
                continue
            line = line_of(path, example) if line_of is not None else None
            if line is not None:
                where = f"{path}:{line}"
            else:
                where = path if from_val_file else f"the {split} split of {path}"
            fell = split if line is not None and not from_val_file else ""
            raise TfbigError(unknown_label_message(where, label, known, split=fell))
    return known


def save_labels(labels, run_dir):
    path = os.path.join(run_dir, LABELS_FILE)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(list(labels), f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def load_labels(run_dir):
    path = os.path.join(run_dir, LABELS_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            labels = json.load(f)
    except FileNotFoundError:
        raise TfbigError(f"{path}: missing (a classify or image run folder holds its class "
                         f"labels there)") from None
    except json.JSONDecodeError as error:
        raise TfbigError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise TfbigError(f"{path}: expected a JSON list of label strings")
    return labels
