"""Class labels of the classify and image tasks: learnt from the training split, saved as
``labels.json`` in the run folder, checked against every other split.

Labels are strings as the data writes them (a TSV/CSV label column, an image class folder).
The label set is sorted (numerically when every label is an integer, so ``"10"`` follows
``"9"``) and class ``i`` is ``labels[i]``: star ratings ``1 … 5`` become classes ``0 … 4``
and predictions print ``1 … 5`` again.
"""

import json
import os

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
            shown = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
            raise TfbigError(f"{where}: label {label!r} is not in the training labels "
                             f"({shown}); add training examples of it or remove it")


def check_split_labels(splits, label_of, data_path, val_path=""):
    """Check that the validation and test splits only hold labels seen in training.

    Runs before TensorFlow is imported or the run folder is touched.
    """
    known = learn_labels(label_of(example) for example in splits["train"])
    for split in ("validation", "test"):
        source = val_path if split == "validation" and val_path else None
        where = source or f"the {split} split of {data_path}"
        check_labels((label_of(example) for example in splits[split]), known, where)
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
