"""Load a finished run folder for prediction or evaluation: its task, assets and model."""

import functools
import os

from tfbig import run_folder


def load_model(path):
    """``keras.saving.load_model`` with every tfbig class registered, ``safe_mode`` on.

    Keras finds custom classes by their registered names, so the modules that define them
    (models, and the loss/metric/schedule in the saved compile config) are imported first.
    """
    import keras

    import tfbig.models  # noqa: F401  (registers the layers and models)
    import tfbig.losses  # noqa: F401
    import tfbig.metrics  # noqa: F401
    import tfbig.training.fused_adamw  # noqa: F401  (FusedAdamW, with compile=True)
    import tfbig.training.layerwise_lr  # noqa: F401  (LayerwiseAdamW, with compile=True)
    import tfbig.training.schedules  # noqa: F401

    # compile=False: inference needs no optimizer state (and loads faster).
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def run_task(run_dir):
    """The task of a finished run, with what reading data needs (a classifier's labels)
    but no tokenizers or model: no TensorFlow yet, so a bad data file fails fast."""
    from tfbig.config import from_dict
    from tfbig.tasks import get_task

    config = from_dict(run_folder.require_run(run_dir),
                       source=os.path.join(run_dir, run_folder.CONFIG))
    task = get_task(config)
    task.load_label_assets(run_dir)
    return task


def load_run_model(task, run_dir):
    """The model of the finished run whose :func:`run_task` is ``task``, which gets its
    tokenizers loaded: the second half of :func:`load_run`."""
    task.load_assets(run_dir)
    return load_model(os.path.join(run_dir, run_folder.MODEL))


def load_run(run_dir):
    """``(task, model)`` of a finished run: the task has its tokenizers loaded."""
    task = run_task(run_dir)
    return task, load_run_model(task, run_dir)


def run_predictor(run_dir):
    """``predict(list_of_str) -> list_of_str`` of a finished run, decoding as
    ``python -m tfbig.predict`` does (e.g. the reverse model for back-translation)."""
    task, model = load_run(run_dir)
    return functools.partial(task.predict_texts, model)
