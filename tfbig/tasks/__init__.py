"""Tasks: what to read, how to tokenise, which model and loss, how to score and predict.

A task object is the one place that knows its data shape; the training loop, ``predict``
and ``evaluate`` talk to every task through the same few methods (see ``tasks.base``).

==========  =========================  ====================  ==============================
task        data                       models (default 1st)  predict: one line per input
==========  =========================  ====================  ==============================
translate   TSV ``source<TAB>target``  transformer           the decoded target text
classify    TSV/CSV ``text,label``     bert, rnn, cnn        the label name
lm          text lines / .txt folder   gpt                   a continuation of the line
mlm         text lines / .txt folder   bert                  the line, each [MASK] filled
image       ``class_name/*.png``       vit, cnn              the class of the image path
==========  =========================  ====================  ==============================
"""

import importlib

from tfbig.errors import TfbigError

# task name → (module, class); modules are imported on demand (they import TensorFlow
# lazily, but keep the CLIs' --help fast anyway).
TASK_CLASSES = {
    "translate": ("tfbig.tasks.translate", "TranslateTask"),
    "classify": ("tfbig.tasks.classify", "ClassifyTask"),
    "lm": ("tfbig.tasks.language_model", "LanguageModelTask"),
    "mlm": ("tfbig.tasks.masked_lm", "MaskedLMTask"),
    "image": ("tfbig.tasks.image", "ImageTask"),
}
AVAILABLE = tuple(TASK_CLASSES)


def get_task(config):
    """The task object for ``config.task``; a model that cannot do it is a
    :class:`TfbigError` listing the models that can."""
    if config.task not in TASK_CLASSES:
        raise TfbigError(f"task {config.task!r} is not available in this version of tfbig; "
                         f"available: {', '.join(AVAILABLE)}")
    module, name = TASK_CLASSES[config.task]
    return getattr(importlib.import_module(module), name)(config)
