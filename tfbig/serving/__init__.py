"""Serving: ``tf.Module``s that run a model on raw inputs inside the graph (``modules``).

A task builds its module (``Task.serving_module``); ``tfbig.exporting`` saves it as a
SavedModel. The modules sit below the tasks: they know tokenizers, models and generation.
"""
