"""Export a run as a self-contained SavedModel: raw strings in, strings/labels out.

``python -m tfbig.export --run DIR --output DIR`` calls :func:`export_run`. Read in this
order:

- ``serving``        one ``tf.Module`` per task: the model, the tokenizers (inside the
                     graph) and a ``serve`` function doing what ``predict`` does
- ``mask_filling``   the mlm task's ``[MASK]`` filling in graph ops
- ``manifest``       ``export.json`` and ``README.md``: the signature's inputs and outputs
- ``atomic_folder``  the export appears complete or not at all (temp sibling, then rename)
- ``export_run``     load the run, save, check, rename

Loading an export needs TensorFlow and ``import tensorflow_text`` (its ops tokenize).
"""

from tfbig.exporting.export_run import export_run

__all__ = ["export_run"]
