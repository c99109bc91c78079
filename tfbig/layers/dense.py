"""A dense layer whose weight gradient runs on faster CPU kernels while training.

    y = x W + b,   ∂L/∂x = g Wᵀ,   ∂L/∂W = xᵀ g,   ∂L/∂b = Σ_rows g

The three matmuls of a dense layer in training (forward, input gradient, weight gradient)
do the same number of flops, but not at the same speed everywhere. With TensorFlow's oneDNN
CPU kernels (which ``import tfbig`` turns on, ``tfbig.cpu_kernels``) the weight gradient
``xᵀ g`` sums over the long ``batch × length`` axis and runs slowly: for the feed-forward
layers of the benchmark's reference Transformer (``[256, 2048]·[2048, 1024]``) 60–73
GFLOP/s, against 83–108 for XLA's CPU kernels and 105–120 for the forward pass
(``benchmarks/``, ``docs/benchmarks.md``). TensorFlow picks kernels per op type, not per
call, so this layer computes ``xᵀ g`` in a small XLA-compiled function of its own, through a
custom gradient. Training the reference Transformer with ``model.fit`` gained 7–10% in
tokens/s from that alone.

Everything else is ``keras.layers.Dense``: the constructor, ``get_config``, LoRA
(``enable_lora``: its kernel is read through ``self.kernel``), quantisation and the
weights' names. The faster gradient is used only where it was measured to help: the
TensorFlow backend with oneDNN kernels on a CPU, float32 compute, ``training=True``, a plain
(not quantised) kernel. Anywhere else — inference, JAX, a GPU, mixed precision, Eigen
kernels — the layer *is* Keras' ``Dense``. (Inside a step that is XLA-compiled as a whole,
the small function is compiled with the rest: same kernels, same numbers.)
"""

import functools

import keras


@functools.cache
def weight_gradient_on_xla():
    """Whether this process computes dense weight gradients with XLA while training:
    the TensorFlow backend, oneDNN kernels on, and no GPU or TPU to run on."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    from tfbig.cpu_kernels import onednn_enabled

    accelerators = tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")
    return onednn_enabled() and not accelerators


@functools.cache
def _xla_weight_gradient():
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def weight_gradient(inputs, upstream):
        """``xᵀ g`` for ``x [rows, in]`` and ``g [rows, out]`` → ``[in, out]``."""
        return tf.matmul(inputs, upstream, transpose_a=True)

    return weight_gradient


def dense_with_xla_weight_gradient(inputs, kernel, bias=None):
    """``inputs @ kernel (+ bias)`` for ``inputs [..., in]``; the gradient with respect to
    ``kernel`` is computed by XLA (TensorFlow only).

    The bias add sits inside the custom gradient: the identity op that ``tf.custom_gradient``
    puts on its outputs would otherwise stop TensorFlow from fusing the matmul and the bias
    add into one kernel.
    """
    import tensorflow as tf

    in_features, units = kernel.shape

    def forward(flat_inputs, kernel, *bias):
        outputs = tf.matmul(flat_inputs, kernel)
        return tf.nn.bias_add(outputs, bias[0]) if bias else outputs

    @tf.custom_gradient
    def dense(flat_inputs, kernel, *bias):
        def gradient(upstream):
            gradients = (tf.matmul(upstream, kernel, transpose_b=True),
                         _xla_weight_gradient()(flat_inputs, upstream))
            return gradients + ((tf.reduce_sum(upstream, axis=0),) if bias else ())

        return forward(flat_inputs, kernel, *bias), gradient

    leading = tf.shape(inputs)[:-1]
    flat = tf.reshape(inputs, [-1, in_features])  # rows = every position of every sequence
    outputs = dense(flat, kernel, *([] if bias is None else [bias]))
    return tf.reshape(outputs, tf.concat([leading, [units]], axis=0))


@keras.saving.register_keras_serializable(package="tfbig")
class Dense(keras.layers.Dense):
    """``keras.layers.Dense`` whose weight gradient runs on XLA's CPU kernels in training
    where that is faster (see module).

    Example:
        >>> import numpy as np
        >>> layer = Dense(3, kernel_initializer="ones")
        >>> np.asarray(layer(np.ones((2, 4), "float32"), training=True)).tolist()
        [[4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    """

    def call(self, inputs, training=None):
        if (training and self.quantization_mode is None
                and self.compute_dtype == "float32" and weight_gradient_on_xla()):
            import tensorflow as tf

            outputs = dense_with_xla_weight_gradient(
                tf.convert_to_tensor(inputs, self.compute_dtype),
                tf.convert_to_tensor(self.kernel),
                None if self.bias is None else tf.convert_to_tensor(self.bias))
            return outputs if self.activation is None else self.activation(outputs)
        return super().call(inputs, training=training)
