"""Candidate speed-ups for tfbig, prototyped here so they can be measured before tfbig changes.

Nothing in ``tfbig/`` is edited: each variant subclasses a tfbig class, and
:func:`build_transformer` swaps the attention class the blocks instantiate for the length
of one constructor call (``tfbig.layers.encoder_block`` and ``decoder_block`` look up the
module-level name ``MultiHeadAttention`` when a block is created).

Variants:

* :class:`FusedQKVAttention` — self-attention projects Q, K, V with one ``Dense(3·d)``;
  cross-attention projects K, V of the encoder output with one ``Dense(2·d)`` (and its
  output reshapes straight into the cache layout ``[B, 2, h, T, d_k]``).
* :class:`SdpaAttention` — ``keras.ops.dot_product_attention`` on ``[B, T, h, d_k]``
  (no head transposes) wherever attention dropout is inactive (inference, generation).
  With dropout active it falls back to tfbig's path: the fused op has no weight dropout.
* :class:`GatherMaskedSparseCrossentropy` — the loss as tfbig had it before adopting the
  fused ``SparseSoftmaxCrossEntropyWithLogits`` (``log_softmax`` + gather), to measure that
  change side by side.
* :func:`keras_parts` — tfbig with Keras' own dropout, AdamW, ``ops.argmax`` or
  ``train_step`` back in place of ``tfbig.layers.Dropout``, ``FusedAdamW``,
  ``tfbig.ops.argmax`` and ``RealTokenTrainStep`` (no logits for padding), to measure what
  each of those gained, side by side.
* :func:`xla_weight_gradients` — every ``keras.layers.Dense`` computes its weight gradient
  ``xᵀ·g`` in a small XLA-compiled function (a custom gradient), the rest on oneDNN.
"""

import contextlib

import keras
from keras import ops

import tfbig.layers.decoder_block as decoder_block_module
import tfbig.layers.encoder_block as encoder_block_module
from tfbig.layers.attention import attention_weights
from tfbig.layers.multi_head_attention import MultiHeadAttention
from tfbig.losses import MaskedSparseCrossentropy
from tfbig.models import Transformer


def _dense(layer, units, name, input_shape):
    dense = keras.layers.Dense(units, use_bias=layer.use_bias, name=name,
                               kernel_initializer=layer.kernel_initializer,
                               dtype=layer.dtype_policy)
    dense.build(input_shape)
    return dense


class FusedQKVAttention(MultiHeadAttention):
    """tfbig's attention with fused input projections (one matmul instead of three / two)."""

    def build(self, query_shape, value_shape=None, key_shape=None):
        # Self-attention is built with the query shape only (EncoderBlock/DecoderBlock).
        self.is_self_attention = value_shape is None
        h, dk, dv = self.num_heads, self.key_dim, self.value_dim
        assert dk == dv, "the fused layout needs key_dim == value_dim"
        if self.is_self_attention:
            self.qkv_dense = _dense(self, 3 * h * dk, "query_key_value", query_shape)
        else:
            self.query_dense = _dense(self, h * dk, "query", query_shape)
            self.key_value_dense = _dense(self, 2 * h * dk, "key_value", value_shape)
        self.output_dense = _dense(self, self.output_dim or query_shape[-1], "attention_output",
                                   tuple(query_shape[:-1]) + (h * dv,))
        self.attention_dropout = keras.layers.Dropout(self.dropout, name="attention_dropout")

    def _heads(self, x, parts):
        """``[B, T, parts·h·d_k]`` → ``parts`` tensors ``[B, h, T, d_k]``.

        ``split`` on the feature axis, then tfbig's ``split_heads`` on each: the gradient
        of ``split`` is one ``concatenate``. (Reshaping to ``[B, T, parts, h, d_k]``, one
        5-D transpose and slicing was slower in a first probe: 3.41 vs 3.01 CPU-s/step.)
        """
        return [self.split_heads(x, self.key_dim) for x in ops.split(x, parts, axis=-1)]

    def project_key_value(self, value, key=None, pair=False):
        k, v = self._heads(self.key_value_dense(value), 2)
        return (k, v) if pair else ops.stack([k, v], axis=1)  # tfbig's two cache forms

    def call(self, query, value=None, key=None, attention_mask=None, training=None,
             return_attention_scores=False, cache=None, cache_update_index=None):
        if self.is_self_attention:
            q, k, v = self._heads(self.qkv_dense(query), 3)  # each (B, h, T, d_k)
            if cache is not None:
                keys, values = split_cache(cache)
                start = [0, 0, cache_update_index, 0]
                k = ops.slice_update(keys, start, ops.cast(k, keys.dtype))
                v = ops.slice_update(values, start, ops.cast(v, values.dtype))
                cache = join_cache(k, v, like=cache)
        else:
            q = self.split_heads(self.query_dense(query), self.key_dim)  # (B, h, T_q, d_k)
            if cache is not None:
                k, v = split_cache(cache)
            else:
                k, v = self._heads(self.key_value_dense(value), 2)
        mask = None
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")
            if len(mask.shape) == 3:
                mask = ops.expand_dims(mask, axis=1)
        weights = ops.cast(attention_weights(q, k, mask), v.dtype)  # (B, h, T_q, T_k)
        heads = ops.matmul(self.attention_dropout(weights, training=training), v)
        output = self.output_dense(self.merge_heads(heads))
        results = (output,)
        if cache is not None:
            results += (cache,)
        if return_attention_scores:
            results += (weights,)
        return results[0] if len(results) == 1 else results


def split_cache(cache):
    """Keys and values of a cache in either of tfbig's forms: a ``(keys, values)`` pair or one
    stacked ``[B, 2, h, T, d]`` tensor."""
    return tuple(cache) if isinstance(cache, (tuple, list)) else (cache[:, 0], cache[:, 1])


def join_cache(keys, values, like):
    """The cache in the form ``like`` has."""
    return (keys, values) if isinstance(like, (tuple, list)) else ops.stack([keys, values], 1)


class SdpaAttention(MultiHeadAttention):
    """tfbig's attention through ``keras.ops.dot_product_attention`` when dropout is off.

    Returns ``None`` for the attention weights on the fused path (the op does not expose
    them); tfbig's blocks always ask for them, so the recommended change passes
    ``return_attention_scores`` down instead.
    """

    def call(self, query, value=None, key=None, attention_mask=None, training=None,
             return_attention_scores=False, cache=None, cache_update_index=None):
        if training and self.dropout > 0:
            return super().call(query, value, key, attention_mask, training,
                                return_attention_scores, cache, cache_update_index)
        value = query if value is None else value
        key = value if key is None else key
        h, dk, dv = self.num_heads, self.key_dim, self.value_dim
        batch, length = ops.shape(query)[0], ops.shape(query)[1]
        q = ops.reshape(self.query_dense(query), (batch, length, h, dk))  # (B, T_q, h, d_k)
        if cache is not None and cache_update_index is None:
            k, v = (ops.transpose(x, (0, 2, 1, 3)) for x in split_cache(cache))  # (B, T_k, h, d)
        else:
            key_length = ops.shape(key)[1]
            k = ops.reshape(self.key_dense(key), (batch, key_length, h, dk))
            v = ops.reshape(self.value_dense(value), (batch, key_length, h, dv))
            if cache is not None:
                keys, values = split_cache(cache)
                start = [0, 0, cache_update_index, 0]
                new_k = ops.slice_update(keys, start, ops.transpose(k, (0, 2, 1, 3)))
                new_v = ops.slice_update(values, start, ops.transpose(v, (0, 2, 1, 3)))
                cache = join_cache(new_k, new_v, like=cache)
                k = ops.transpose(new_k, (0, 2, 1, 3))
                v = ops.transpose(new_v, (0, 2, 1, 3))
        mask = None
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")
            while len(mask.shape) < 4:  # (T_q, T_k) or (B, T_q, T_k) → (B|1, 1, T_q, T_k)
                mask = ops.expand_dims(mask, axis=0 if len(mask.shape) == 2 else 1)
        heads = ops.dot_product_attention(q, k, v, mask=mask)  # (B, T_q, h, d_v)
        output = self.output_dense(ops.reshape(heads, (batch, length, h * dv)))
        results = (output,)
        if cache is not None:
            results += (cache,)
        if return_attention_scores:
            results += (None,)
        return results[0] if len(results) == 1 else results


@contextlib.contextmanager
def attention_class(cls):
    """Make tfbig's encoder/decoder blocks create ``cls`` instead of MultiHeadAttention."""
    saved = encoder_block_module.MultiHeadAttention, decoder_block_module.MultiHeadAttention
    encoder_block_module.MultiHeadAttention = decoder_block_module.MultiHeadAttention = cls
    try:
        yield
    finally:
        encoder_block_module.MultiHeadAttention, decoder_block_module.MultiHeadAttention = saved


class GatherMaskedSparseCrossentropy(MaskedSparseCrossentropy):
    """tfbig's loss before it used the fused op: ``log_softmax`` + ``take_along_axis``.

    Kept to measure what the fused op gained: the gather's gradient is an
    ``UnsortedSegmentSum`` over the whole ``[B·T·V]`` log-probability tensor.
    """

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)  # (B, T, V)
        per_token = -ops.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]
        if self.label_smoothing:
            epsilon = self.label_smoothing
            per_token = (1.0 - epsilon) * per_token - epsilon * ops.mean(log_probs, axis=-1)
        mask = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        return ops.sum(per_token * mask) / ops.maximum(ops.sum(mask), 1.0)


@contextlib.contextmanager
def keras_parts(*parts):
    """Swap Keras' own versions back in while a model is built, compiled and traced.

    ``parts``: any of ``"dropout"`` (``keras.layers.Dropout.call`` for tfbig's Dropout),
    ``"adamw"`` (``keras.optimizers.AdamW`` for ``FusedAdamW``), ``"argmax"``
    (``keras.ops.argmax`` in ``MaskedAccuracy``) and ``"train_step"`` (Keras' own
    ``train_step``: logits for every position, padding included). The traced graph keeps
    what was in place during the first ``fit``; the originals are restored on exit.
    """
    import tfbig.layers.dropout as dropout_module
    import tfbig.metrics as metrics_module
    import tfbig.training.optimizers as optimizers_module
    from tfbig.models.real_token_step import RealTokenTrainStep

    saved = (dropout_module.Dropout.call, optimizers_module.FusedAdamW, metrics_module.argmax,
             RealTokenTrainStep.real_token_pad_id)
    if "dropout" in parts:
        dropout_module.Dropout.call = keras.layers.Dropout.call
    if "adamw" in parts:
        optimizers_module.FusedAdamW = keras.optimizers.AdamW
    if "argmax" in parts:
        metrics_module.argmax = lambda x, axis=-1: ops.cast(ops.argmax(x, axis=axis), "int32")
    if "train_step" in parts:
        RealTokenTrainStep.real_token_pad_id = lambda self, *args, **kwargs: None
    try:
        yield
    finally:
        (dropout_module.Dropout.call, optimizers_module.FusedAdamW, metrics_module.argmax,
         RealTokenTrainStep.real_token_pad_id) = saved


ATTENTIONS = {"fused_qkv": FusedQKVAttention, "sdpa": SdpaAttention}


def build_transformer(attention=None, **kwargs):
    """tfbig's Transformer (public constructor arguments) with prototype parts swapped in.

    ``attention``: None (tfbig's), ``"fused_qkv"`` or ``"sdpa"``.
    """
    if attention is None:
        return Transformer(**kwargs)
    with attention_class(ATTENTIONS[attention]):
        return Transformer(**kwargs)


def _dense_with_xla_weight_gradient(x, kernel, bias):
    """``x @ kernel + bias`` for ``x [..., K]``; the weight gradient ``xᵀ·g`` runs in an XLA
    cluster. The bias add sits inside the custom gradient: outside, the identity op of
    ``tf.custom_gradient`` stops TensorFlow fusing the matmul with the bias add (that alone
    cost 7%)."""
    import tensorflow as tf

    weight_gradient = _xla_weight_gradient()

    @tf.custom_gradient
    def dense(x, kernel, bias):
        units = kernel.shape[-1]
        flat = tf.reshape(x, [-1, kernel.shape[0]])
        outputs = tf.reshape(tf.nn.bias_add(tf.matmul(flat, kernel), bias),
                             tf.concat([tf.shape(x)[:-1], [units]], 0))

        def gradient(upstream):
            flat_upstream = tf.reshape(upstream, [-1, units])
            dx = tf.reshape(tf.matmul(flat_upstream, kernel, transpose_b=True), tf.shape(x))
            return (dx, weight_gradient(flat, flat_upstream),
                    tf.reduce_sum(flat_upstream, axis=0))

        return outputs, gradient

    return dense(x, kernel, bias)


_XLA_WEIGHT_GRADIENT = []


def _xla_weight_gradient():
    import tensorflow as tf

    if not _XLA_WEIGHT_GRADIENT:
        _XLA_WEIGHT_GRADIENT.append(tf.function(
            lambda x, upstream: tf.matmul(x, upstream, transpose_a=True), jit_compile=True))
    return _XLA_WEIGHT_GRADIENT[0]


@contextlib.contextmanager
def xla_weight_gradients(enabled=True):
    """While a model is built, compiled and traced: every ``keras.layers.Dense`` with a bias
    computes its weight gradient with XLA in training (see the module docstring)."""
    import tensorflow as tf

    saved = keras.layers.Dense.call

    def call(self, inputs, training=None):
        if not training or self.bias is None:
            return saved(self, inputs, training)
        outputs = _dense_with_xla_weight_gradient(tf.convert_to_tensor(inputs),
                                                  tf.convert_to_tensor(self.kernel),
                                                  tf.convert_to_tensor(self.bias))
        return outputs if self.activation is None else self.activation(outputs)

    if enabled:
        keras.layers.Dense.call = call
    try:
        yield
    finally:
        keras.layers.Dense.call = saved
