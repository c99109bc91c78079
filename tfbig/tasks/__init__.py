"""Tasks: what to read, how to tokenise, which model and loss, how to score and predict.

A task object is the one place that knows its data shape; the training loop, ``predict``
and ``evaluate`` talk to every task through the same few methods (see ``tasks.base``).

==========  =========================  ====================  ==============================
task        data                       models (default 1st)  predict: one line per input
==========  =========================  ====================  ==============================
translate   TSV ``source<TAB>target``  transformer, rnn      the decoded target text
classify    TSV/CSV ``text,label``     bert, rnn, cnn        the label name
lm          text lines / .txt folder   gpt                   a continuation of the line
mlm         text lines / .txt folder   bert                  the line, each [MASK] filled
image       ``class_name/*.png``       vit, cnn              the class of the image path
audio       ``class_name/*.wav``       cnn, transformer      ``label<TAB>probability``
==========  =========================  ====================  ==============================

The text tasks also read JSON Lines, their fields named by ``data.*_field``
(``tfbig.data.jsonl``), and a ``tfbig.prepare`` folder of token ids (``tasks.prepared``).
"""

import importlib

from tfbig import config as config_lib
from tfbig.errors import TfbigError

# task name → (module, class); modules are imported on demand (they import TensorFlow
# lazily, but keep the CLIs' --help fast anyway). Everything else about a task is on its
# class (``tfbig.tasks.base.Task``): adding a task is a module here and a line in this table.
TASK_CLASSES = {
    "translate": ("tfbig.tasks.translate", "TranslateTask"),
    "classify": ("tfbig.tasks.classify", "ClassifyTask"),
    "lm": ("tfbig.tasks.language_model", "LanguageModelTask"),
    "mlm": ("tfbig.tasks.masked_lm", "MaskedLMTask"),
    "image": ("tfbig.tasks.image", "ImageTask"),
    "audio": ("tfbig.tasks.audio", "AudioTask"),
}
AVAILABLE = tuple(TASK_CLASSES)


def task_class(name):
    """The class of the task called ``name``; an unknown name is a :class:`TfbigError`."""
    if name not in TASK_CLASSES:
        raise TfbigError(f"config field task={name!r}: expected one of {', '.join(AVAILABLE)}")
    module, class_name = TASK_CLASSES[name]
    return getattr(importlib.import_module(module), class_name)


def resolve_config(overrides, source="config"):
    """:func:`tfbig.config.resolve` with the task's defaults (its default model, and the
    fields its class sets in ``defaults``), checked against the task (model, monitor)."""
    task = overrides.get("task", "translate")
    cls = task_class(task if isinstance(task, str) else repr(task))
    model = overrides.get("model.name") or cls.models[0]
    config = config_lib.resolve(overrides, source,
                                defaults={"model.name": cls.models[0],
                                          **cls.config_defaults(model)})
    cls.check_config(config)
    return config


def config_from_flags(config_file=None, flags=None, assignments=()):
    """Resolve the config of a CLI run: file, then flags that are set, then ``--set``."""
    return resolve_config(config_lib.overrides_from_flags(config_file, flags, assignments),
                          source="--set" if assignments else "config")


def get_task(config):
    """The task object for ``config.task``; a model that cannot do it is a
    :class:`TfbigError` listing the models that can."""
    return task_class(config.task)(config)
