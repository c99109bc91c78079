"""The baseline: the TensorFlow tutorial's Transformer, written the way the tutorial writes it.

Source: https://www.tensorflow.org/text/tutorials/transformer ("Neural machine translation
with a Transformer and Keras"). Kept from the tutorial:

* ``keras.layers.MultiHeadAttention`` in ``BaseAttention`` / ``GlobalSelfAttention`` /
  ``CausalSelfAttention`` / ``CrossAttention`` wrappers, each ``x = LayerNorm(x + MHA(x))``
  (post-norm), attention dropout inside the MHA, no dropout on the attention residual;
* ``FeedForward`` as ``Sequential([Dense(dff, relu), Dense(d_model), Dropout])`` + add + norm;
* the sinusoidal table with sin in the first half and cos in the second, embeddings × √d;
* ``masked_loss`` / ``masked_accuracy`` (plain functions, ``from_logits`` cross-entropy);
* Adam with the paper's warm-up schedule (β2 0.98, ε 1e-9);
* the greedy ``Translator``: the whole model (encoder too) re-run on the growing output each
  step, the output kept in a ``tf.TensorArray`` — here batched and inside one ``tf.function``.

Two deliberate departures, both in the baseline's favour or neutral:

* ``key_dim=d_model // num_heads``. The tutorial passes ``key_dim=d_model``, which makes each
  of the 8 heads 256 wide, i.e. 8× the attention projection FLOPs of the paper's model; we
  compare models of the same size, so the baseline gets the paper's head size.
* Masks are passed explicitly (``attention_mask`` from the padding, ``use_causal_mask``)
  instead of relying on Keras-2 style ``mask_zero`` propagation, which Keras 3 subclassed
  layers do not carry reliably. Same attention pattern, same cost.

One fix, without which the comparison would not be like for like:

* ``Transformer.call`` takes ``training``. The tutorial's ``call(self, inputs)`` has no
  ``training`` argument, and Keras 3's ``train_step`` passes ``training=True`` only to models
  whose ``call`` accepts it; so under ``model.fit`` every dropout layer of the tutorial's
  model is called with ``training=False`` and never drops (their seed counters never
  advance). The tutorial as written therefore trains *without* dropout on Keras 3.
  ``build(as_written=True)`` keeps that model, for reference (benchmark config
  ``"baseline as written"``); the baseline proper trains with dropout 0.1 as configured,
  like tfbig and the KerasHub model.
"""

import numpy as np
import keras
import tensorflow as tf


def positional_encoding(length, depth):
    depth = depth / 2
    positions = np.arange(length)[:, np.newaxis]  # (seq, 1)
    depths = np.arange(depth)[np.newaxis, :] / depth  # (1, depth)
    angle_rads = positions / (10000 ** depths)  # (pos, depth)
    return tf.cast(np.concatenate([np.sin(angle_rads), np.cos(angle_rads)], axis=-1),
                   tf.float32)


class PositionalEmbedding(keras.layers.Layer):
    def __init__(self, vocab_size, d_model, max_length=2048):
        super().__init__()
        self.d_model = d_model
        self.embedding = keras.layers.Embedding(vocab_size, d_model)
        self.pos_encoding = positional_encoding(length=max_length, depth=d_model)

    def call(self, x):
        length = tf.shape(x)[1]
        x = self.embedding(x)
        x *= tf.math.sqrt(tf.cast(self.d_model, tf.float32))
        return x + self.pos_encoding[tf.newaxis, :length, :]


class BaseAttention(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__()
        self.mha = keras.layers.MultiHeadAttention(**kwargs)
        self.layernorm = keras.layers.LayerNormalization()
        self.add = keras.layers.Add()


class CrossAttention(BaseAttention):
    def call(self, x, context, mask):
        attn_output = self.mha(query=x, key=context, value=context, attention_mask=mask)
        return self.layernorm(self.add([x, attn_output]))


class GlobalSelfAttention(BaseAttention):
    def call(self, x, mask):
        attn_output = self.mha(query=x, value=x, key=x, attention_mask=mask)
        return self.layernorm(self.add([x, attn_output]))


class CausalSelfAttention(BaseAttention):
    def call(self, x, mask):
        attn_output = self.mha(query=x, value=x, key=x, attention_mask=mask,
                               use_causal_mask=True)
        return self.layernorm(self.add([x, attn_output]))


class FeedForward(keras.layers.Layer):
    def __init__(self, d_model, dff, dropout_rate=0.1):
        super().__init__()
        self.seq = keras.Sequential([
            keras.layers.Dense(dff, activation="relu"),
            keras.layers.Dense(d_model),
            keras.layers.Dropout(dropout_rate),
        ])
        self.add = keras.layers.Add()
        self.layer_norm = keras.layers.LayerNormalization()

    def call(self, x):
        return self.layer_norm(self.add([x, self.seq(x)]))


class EncoderLayer(keras.layers.Layer):
    def __init__(self, *, d_model, num_heads, dff, dropout_rate=0.1):
        super().__init__()
        self.self_attention = GlobalSelfAttention(
            num_heads=num_heads, key_dim=d_model // num_heads, dropout=dropout_rate)
        self.ffn = FeedForward(d_model, dff, dropout_rate)

    def call(self, x, mask):
        return self.ffn(self.self_attention(x, mask))


class Encoder(keras.layers.Layer):
    def __init__(self, *, num_layers, d_model, num_heads, dff, vocab_size, dropout_rate=0.1):
        super().__init__()
        self.pos_embedding = PositionalEmbedding(vocab_size=vocab_size, d_model=d_model)
        self.enc_layers = [EncoderLayer(d_model=d_model, num_heads=num_heads, dff=dff,
                                        dropout_rate=dropout_rate) for _ in range(num_layers)]
        self.dropout = keras.layers.Dropout(dropout_rate)

    def call(self, x, mask):
        x = self.dropout(self.pos_embedding(x))
        for layer in self.enc_layers:
            x = layer(x, mask)
        return x


class DecoderLayer(keras.layers.Layer):
    def __init__(self, *, d_model, num_heads, dff, dropout_rate=0.1):
        super().__init__()
        self.causal_self_attention = CausalSelfAttention(
            num_heads=num_heads, key_dim=d_model // num_heads, dropout=dropout_rate)
        self.cross_attention = CrossAttention(
            num_heads=num_heads, key_dim=d_model // num_heads, dropout=dropout_rate)
        self.ffn = FeedForward(d_model, dff, dropout_rate)

    def call(self, x, context, self_mask, cross_mask):
        x = self.causal_self_attention(x, self_mask)
        x = self.cross_attention(x, context, cross_mask)
        return self.ffn(x)


class Decoder(keras.layers.Layer):
    def __init__(self, *, num_layers, d_model, num_heads, dff, vocab_size, dropout_rate=0.1):
        super().__init__()
        self.pos_embedding = PositionalEmbedding(vocab_size=vocab_size, d_model=d_model)
        self.dropout = keras.layers.Dropout(dropout_rate)
        self.dec_layers = [DecoderLayer(d_model=d_model, num_heads=num_heads, dff=dff,
                                        dropout_rate=dropout_rate) for _ in range(num_layers)]

    def call(self, x, context, self_mask, cross_mask):
        x = self.dropout(self.pos_embedding(x))
        for layer in self.dec_layers:
            x = layer(x, context, self_mask, cross_mask)
        return x


class Transformer(keras.Model):
    def __init__(self, *, num_layers, d_model, num_heads, dff, input_vocab_size,
                 target_vocab_size, dropout_rate=0.1):
        super().__init__()
        self.encoder = Encoder(num_layers=num_layers, d_model=d_model, num_heads=num_heads,
                               dff=dff, vocab_size=input_vocab_size, dropout_rate=dropout_rate)
        self.decoder = Decoder(num_layers=num_layers, d_model=d_model, num_heads=num_heads,
                               dff=dff, vocab_size=target_vocab_size, dropout_rate=dropout_rate)
        self.final_layer = keras.layers.Dense(target_vocab_size)

    def call(self, inputs, training=None):
        # ``training`` is only declared: Keras passes it on to every inner layer through
        # its call context (see the module docstring for why declaring it matters).
        context, x = inputs
        source_mask = tf.not_equal(context, 0)[:, tf.newaxis, :]  # (B, 1, S): key padding
        target_mask = tf.not_equal(x, 0)[:, tf.newaxis, :]  # (B, 1, T)
        context = self.encoder(context, source_mask)
        x = self.decoder(x, context, target_mask, source_mask)
        return self.final_layer(x)


class CustomSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, d_model, warmup_steps=4000):
        super().__init__()
        self.d_model = tf.cast(d_model, tf.float32)
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = tf.cast(step, dtype=tf.float32)
        arg1 = tf.math.rsqrt(step)
        arg2 = step * (self.warmup_steps ** -1.5)
        return tf.math.rsqrt(self.d_model) * tf.math.minimum(arg1, arg2)


def masked_loss(label, pred):
    mask = label != 0
    loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                             reduction="none")
    loss = loss_object(label, pred)
    mask = tf.cast(mask, dtype=loss.dtype)
    loss *= mask
    return tf.reduce_sum(loss) / tf.reduce_sum(mask)


def masked_accuracy(label, pred):
    pred = tf.argmax(pred, axis=2)
    label = tf.cast(label, pred.dtype)
    match = label == pred
    mask = label != 0
    match = tf.cast(match & mask, dtype=tf.float32)
    return tf.reduce_sum(match) / tf.reduce_sum(tf.cast(mask, dtype=tf.float32))


class TransformerAsWritten(Transformer):
    """The tutorial's ``call`` signature, without ``training``: no dropout under ``fit``."""

    def call(self, inputs):
        return super().call(inputs)


def build(num_layers=4, d_model=256, num_heads=8, dff=1024, input_vocab_size=8000,
          target_vocab_size=8000, dropout_rate=0.1, as_written=False):
    """The tutorial model, uncompiled (``as_written``: its dropout silently off in ``fit``)."""
    model_class = TransformerAsWritten if as_written else Transformer
    return model_class(num_layers=num_layers, d_model=d_model, num_heads=num_heads, dff=dff,
                       input_vocab_size=input_vocab_size, target_vocab_size=target_vocab_size,
                       dropout_rate=dropout_rate)


def compile_like_tutorial(model, d_model, jit_compile=False, steps_per_execution=1):
    optimizer = keras.optimizers.Adam(CustomSchedule(d_model), beta_1=0.9, beta_2=0.98,
                                      epsilon=1e-9)
    model.compile(loss=masked_loss, optimizer=optimizer, metrics=[masked_accuracy],
                  jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    return model


class Translator(tf.Module):
    """The tutorial's greedy loop, batched: re-run the whole model on the output so far.

    ``translator(source_ids)`` → int32 ``[batch, max_new_tokens]``. The tutorial stops
    when the (single) sentence emits [END]; with a batch and no end id we always run
    ``max_new_tokens`` steps, as tfbig's ``generate(..., end_id=None)`` does.
    """

    def __init__(self, transformer, max_new_tokens, start_id, jit_compile=False):
        super().__init__()
        self.transformer = transformer
        self.max_new_tokens = max_new_tokens
        self.start_id = start_id
        self.run = tf.function(self._run, jit_compile=jit_compile, reduce_retracing=True)

    def _run(self, encoder_input):
        batch = tf.shape(encoder_input)[0]
        output_array = tf.TensorArray(dtype=tf.int32, size=0, dynamic_size=True)
        output_array = output_array.write(0, tf.fill([batch], self.start_id))
        for i in tf.range(self.max_new_tokens):
            output = tf.transpose(output_array.stack())  # (B, i + 1)
            predictions = self.transformer([encoder_input, output], training=False)
            predictions = predictions[:, -1:, :]  # (B, 1, vocab)
            predicted_id = tf.argmax(predictions, axis=-1, output_type=tf.int32)  # (B, 1)
            output_array = output_array.write(i + 1, predicted_id[:, 0])
        return tf.transpose(output_array.stack())[:, 1:]

    def __call__(self, source_ids):
        return self.run(tf.convert_to_tensor(source_ids, tf.int32))
