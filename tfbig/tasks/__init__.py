"""Tasks: what to read, how to tokenise, which model and loss, how to score and predict.

A task object is the one place that knows its data shape; the training loop, ``predict``
and ``evaluate`` talk to every task through the same few methods (see ``TranslateTask``).
"""

from tfbig.errors import TfbigError

AVAILABLE = ("translate",)


def get_task(config):
    """The task object for ``config.task``."""
    if config.task == "translate":
        from tfbig.tasks.translate import TranslateTask

        return TranslateTask(config)
    raise TfbigError(f"task {config.task!r} is not available in this version of tfbig; "
                     f"available: {', '.join(AVAILABLE)}")
