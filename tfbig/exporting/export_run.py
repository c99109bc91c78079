"""Export a finished run folder as a self-contained SavedModel, atomically.

    run folder ──load_run──> (task, model) ──task.serving_module──> tf.Module with ``serve``
    ──tf.saved_model.save──> temporary sibling folder (+ export.json, README.md)
    ──load it back and call it once──> rename to --output
"""

import sys

from tfbig.exporting.atomic_folder import atomic_folder, check_destination
from tfbig.exporting.manifest import INPUT_NAME, SIGNATURE, manifest, write_manifest
from tfbig.run_folder import require_run


def _log(message):
    print(message, file=sys.stderr, flush=True)


def export_run(run_dir, output_dir, *, overwrite=False, max_length=None, check=True,
               log=_log):
    """Write the SavedModel of the run ``run_dir`` into ``output_dir``.

    Args:
        run_dir: a finished run folder (``config.json``, ``model.keras``, its assets).
        output_dir: where the export goes: absent or empty, or an earlier export with
            ``overwrite``. It appears complete or not at all.
        overwrite: replace an earlier export (a folder holding ``export.json``).
        max_length: tokens to generate at most (translate, lm); default the run's length.
        check: load the written SavedModel back and call its signature once before it
            takes its final name.
        log: where progress lines go (default: stderr).

    Returns:
        The ``export.json`` dict: the signature's input and outputs, labels, settings.

    Raises:
        TfbigError: no finished run in ``run_dir``; ``output_dir`` not usable; ``max_length``
            not valid for the run.

    Example:
        >>> info = export_run("runs/dates", "exports/dates")  # doctest: +SKIP
        >>> import tensorflow as tf, tensorflow_text  # doctest: +SKIP
        >>> serve = tf.saved_model.load("exports/dates").signatures["serving_default"]
        >>> serve(inputs=tf.constant(["12 sep. 2013"]))["outputs"]  # doctest: +SKIP
    """
    # Everything about the user's input is checked before TensorFlow loads the model.
    require_run(run_dir)
    check_destination(output_dir, overwrite, protect=[run_dir])

    import tensorflow as tf

    from tfbig.inference import load_run

    task, model = load_run(run_dir)
    module = task.serving_module(model, max_length)
    info = manifest(task, module, run_dir)
    with atomic_folder(output_dir, overwrite, protect=[run_dir]) as folder:
        log(f"export: tracing and saving the {task.name} serving function")
        tf.saved_model.save(module, folder, signatures={SIGNATURE: module.serve})
        write_manifest(folder, info, module.example_input)
        if check:
            check_export(folder, module.sample_inputs(), log)
    log(f"export: wrote {output_dir}")
    return info


def check_export(folder, inputs, log=_log):
    """Load the SavedModel in ``folder`` and call its signature on ``inputs`` (the serving
    module's ``sample_inputs()``); raise ``RuntimeError`` unless every output has one row
    per input."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

    outputs = tf.saved_model.load(folder).signatures[SIGNATURE](**{INPUT_NAME: inputs})
    for name, value in outputs.items():
        if value.shape[0] != inputs.shape[0]:
            raise RuntimeError(f"the exported signature's output {name!r} has shape "
                               f"{value.shape} for {inputs.shape[0]} inputs")
    first = next(iter(outputs))
    log(f"export: checked the saved signature ({first}: "
        f"{outputs[first].numpy()[0]!r} for a sample input)")
    return outputs

