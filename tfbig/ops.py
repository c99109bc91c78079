"""Tensor functions tfbig uses where ``keras.ops`` does extra work on one backend.

``keras.ops.argmax`` on the TensorFlow backend first rewrites every ``-0.0`` in a float
input to the smallest negative float (a fix for JAX's flush-to-zero, jax-ml/jax#24280):
six extra element-wise passes (bitcast, bitwise-and, two compares, and, select) over the
whole input. On a training step's logits, ``[batch, length, vocab]``, that was 5–6% of the
step's op time at the benchmark's reference config (``benchmarks/``), for a masked-accuracy
metric. For logits, ``-0.0`` and ``0.0`` are the same score, so plain ``tf.argmax`` gives
the same answer.
"""

import keras
from keras import ops


def argmax(x, axis=-1):
    """Index of the largest value along ``axis`` (the first one on ties), as int32.

    Example:
        >>> import numpy as np
        >>> argmax(np.array([[0.1, 2.0, 2.0], [3.0, 0.0, -1.0]], "float32")).numpy().tolist()
        [1, 0]
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.argmax(x, axis=axis, output_type=tf.int32)
    return ops.cast(ops.argmax(x, axis=axis), "int32")
