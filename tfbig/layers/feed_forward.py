"""Position-wise feed-forward network: ``FFN(x) = max(0, x W_1 + b_1) W_2 + b_2``.

Reference: Vaswani et al. 2017, section 3.3, https://arxiv.org/abs/1706.03762
(BERT and GPT use GELU instead of ReLU: ``activation="gelu"``).
"""

import keras


@keras.saving.register_keras_serializable(package="tfbig")
class FeedForward(keras.layers.Layer):
    """Two dense layers applied to every position independently: ``d_model → dff → d_model``.

    Args:
        d_model: input and output size.
        dff: inner size (4 × d_model in the paper).
        activation: inner activation, ``"relu"`` (paper) or ``"gelu"`` (BERT, GPT).

    Example:
        >>> import numpy as np
        >>> tuple(FeedForward(d_model=8, dff=32)(np.ones((2, 3, 8), "float32")).shape)
        (2, 3, 8)
    """

    def __init__(self, d_model, dff, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.d_model = d_model
        self.dff = dff
        self.activation = activation
        self.inner = keras.layers.Dense(
            dff, activation=activation, name="inner", dtype=self.dtype_policy)
        self.outer = keras.layers.Dense(d_model, name="outer", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.inner.build(input_shape)
        self.outer.build(tuple(input_shape[:-1]) + (self.dff,))

    def call(self, x):
        # No dropout inside: the blocks apply the paper's residual dropout to the output.
        return self.outer(self.inner(x))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.d_model,)

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, dff=self.dff, activation=self.activation)
        return config
