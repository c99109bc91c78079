"""Dropout (Srivastava et al. 2014) with a cheaper random mask on the TensorFlow backend.

    y = x · m / (1 − p),   m ~ Bernoulli(1 − p) per element (training only)

``keras.layers.Dropout`` on TensorFlow draws one float32 uniform number per element
(Philox, then a float conversion), compares it with ``p``, and selects. A 16-bit uniform
number per element is plenty for the comparison: this layer draws half as many 32-bit
Philox words, reads each as two 16-bit numbers, and keeps an element when its number is
≥ ``t = round(p · 2¹⁶)``. The keep probability is then ``1 − t / 2¹⁶`` (within 2⁻¹⁷ of
``1 − p``), and the scale ``2¹⁶ / (2¹⁶ − t)`` makes ``E[y] = x`` exactly. Dropout is
called 34 times per step in the benchmark's reference Transformer, on 24 M elements in all;
this mask costs about half of Keras' there (``benchmarks/``).

Everything else is ``keras.layers.Dropout``: the constructor, ``seed``, ``noise_shape``
(which, like an odd last dimension or another backend, takes Keras' own path), and the
seed generator that makes a seeded run reproducible.
"""

import keras

# The mask's resolution: each element compares a 16-bit uniform integer with a threshold.
MASK_LEVELS = 1 << 16


def keep_threshold(rate):
    """``(t, scale)``: keep an element when its 16-bit number is ≥ ``t``; scale kept ones."""
    threshold = min(round(rate * MASK_LEVELS), MASK_LEVELS - 1)
    return threshold, MASK_LEVELS / (MASK_LEVELS - threshold)


def half_width_dropout(inputs, rate, seed):
    """``inputs`` with elements zeroed at ``rate`` and the rest scaled (TensorFlow only).

    Args:
        inputs: a float tensor whose last dimension is static and even.
        rate: the fraction to drop, in ``[0, 1)``.
        seed: an int32/int64 tensor of shape ``[2]`` (a stateless seed).
    """
    import tensorflow as tf

    threshold, scale = keep_threshold(rate)
    shape = tf.shape(inputs)
    words_shape = tf.concat([shape[:-1], [inputs.shape[-1] // 2]], axis=0)
    words = tf.random.stateless_uniform(words_shape, seed=seed, minval=None, maxval=None,
                                        dtype=tf.uint32)
    numbers = tf.reshape(tf.bitcast(words, tf.uint16), shape)  # two per word
    mask = tf.where(numbers >= tf.constant(threshold, tf.uint16),
                    tf.constant(scale, inputs.dtype), tf.constant(0, inputs.dtype))
    return inputs * mask  # the gradient is the same product: one multiply


@keras.saving.register_keras_serializable(package="tfbig")
class Dropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` with a half-width random mask on TensorFlow (see module).

    Example:
        >>> import numpy as np
        >>> layer = Dropout(0.5, seed=1)
        >>> x = np.ones((2, 8), "float32")
        >>> bool((np.asarray(layer(x, training=False)) == x).all())
        True
        >>> sorted(set(np.asarray(layer(x, training=True)).ravel().tolist()))
        [0.0, 2.0]
    """

    def __init__(self, rate, **kwargs):
        # The mask takes its input's dtype, so no cast to this layer's own policy: a
        # Dropout rebuilt by its parent under another global policy (loading a
        # mixed-precision model in a float32 process) would turn a float16 stream float32.
        kwargs.setdefault("autocast", False)
        super().__init__(rate, **kwargs)

    def call(self, inputs, training=False):
        if (training and 0.0 < self.rate < 1.0 and self.noise_shape is None
                and keras.backend.backend() == "tensorflow"
                and isinstance(inputs.shape[-1], int) and inputs.shape[-1] % 2 == 0):
            return half_width_dropout(inputs, self.rate, self.seed_generator.next())
        return super().call(inputs, training=training)
