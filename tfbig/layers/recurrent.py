"""Pick a Keras recurrent layer by name, for the RNN models (``cell="lstm"`` or ``"gru"``).

References: Hochreiter & Schmidhuber 1997 (LSTM); Cho et al. 2014 (GRU),
https://arxiv.org/abs/1406.1078
"""

import keras

from tfbig.errors import TfbigError

RNN_CELLS = ("lstm", "gru")


def check_cell(cell):
    """Raise :class:`TfbigError` unless ``cell`` is one of :data:`RNN_CELLS`."""
    if cell not in RNN_CELLS:
        raise TfbigError(f"cell must be one of {', '.join(RNN_CELLS)}; received {cell!r}")


def recurrent_layer(cell, units, **kwargs):
    """``keras.layers.LSTM`` or ``keras.layers.GRU`` with ``units``; ``kwargs`` pass through.

    Example:
        >>> recurrent_layer("gru", 8, name="rnn").__class__.__name__
        'GRU'
    """
    check_cell(cell)
    layer_class = keras.layers.LSTM if cell == "lstm" else keras.layers.GRU
    return layer_class(units, **kwargs)
