"""A training step that computes vocabulary logits only where there is a label to score.

Token-level models (the Transformer, GPT, BERT's masked LM) end in the most expensive layer
they have: the vocabulary projection ``[B·T, d] · [d, V]`` and a soft-max over ``V``. With
the masked loss (``MaskedSparseCrossentropy``)

    loss = Σ_{t : y_t ≠ PAD} CE(y_t, p_t) / N,   N = #{t : y_t ≠ PAD}

every row whose label is padding is computed and then multiplied by zero. This step gathers
the ``N`` rows with real labels from the hidden states *before* the projection, so the
projection, its two gradient matmuls, the soft-max and the accuracy's argmax run on ``N``
rows instead of ``B·T``. The loss, the metrics and the gradients are the same numbers (the
masked rows contributed exact zeros), so this is a cheaper schedule for the same maths:

* padded translation batches (the benchmark's reference config: about 25% padding,
  vocabulary 8,000, d_model 256) train 2–6% faster on median steps, up to 13% on best
  rounds; with d_model 128, 18–21% (``benchmarks/``, ``docs/benchmarks.md``);
* BERT's masked LM scores only the ~15% masked positions: the head shrinks ~6×.

The gather and its gradient cost a little, so the step is used only for vocabularies of at
least ``MIN_VOCABULARY`` tokens: with 64 (a character vocabulary) it was 2–7% slower, with
1,000 0–4% faster. It also applies only when all of it is known to be exact: the TensorFlow
backend, a step that is not XLA-compiled (the gathered row count changes from batch to
batch), the loss compiled is a ``MaskedSparseCrossentropy`` whose every metric is a
``MaskedAccuracy`` with the same pad id, labels are one ``[B, T]`` integer tensor and no
sample weights are given. Otherwise the model trains with Keras' own ``train_step``,
unchanged.

A model opts in by inheriting this class before ``keras.Model`` and splitting its ``call``
into ``hidden_states(inputs, training)`` (``[B, T, d]``) and ``logits(hidden)``
(per-position: ``[..., d] → [..., V]``), and naming ``V`` in ``head_vocabulary_size``.
"""

import keras

from tfbig.losses import MaskedSparseCrossentropy
from tfbig.metrics import MaskedAccuracy

# Below this many logits per position the head is cheap and skipping rows does not pay.
MIN_VOCABULARY = 1000


class RealTokenTrainStep:
    """Mixin for ``keras.Model`` subclasses: train on the logits of real labels only."""

    def hidden_states(self, inputs, training=None):
        """``inputs`` → the hidden states that :meth:`logits` projects, ``[B, T, d]``."""
        raise NotImplementedError

    def logits(self, hidden):
        """Per-position head: ``[..., d]`` → float32 logits ``[..., V]``."""
        raise NotImplementedError

    @property
    def head_vocabulary_size(self):
        """``V``: the number of logits per position."""
        raise NotImplementedError

    def real_token_pad_id(self, labels, sample_weight=None):
        """The pad id whose positions this step may skip, or None to use Keras' step."""
        if (keras.backend.backend() != "tensorflow" or self.jit_compile
                or sample_weight is not None or not hasattr(self, "_loss_tracker")
                or self.head_vocabulary_size < MIN_VOCABULARY):
            return None
        loss = self.loss
        if not isinstance(loss, MaskedSparseCrossentropy):
            return None
        compiled = getattr(getattr(self, "_compile_config", None), "config", {})
        if compiled.get("loss_weights") is not None:
            return None
        metrics = list(keras.tree.flatten(compiled.get("metrics") or []))
        metrics += keras.tree.flatten(compiled.get("weighted_metrics") or [])
        if not all(isinstance(metric, MaskedAccuracy) and metric.pad_id == loss.pad_id
                   for metric in metrics):
            return None
        if (not hasattr(labels, "dtype") or len(labels.shape) != 2
                or not labels.dtype.is_integer):
            return None
        return loss.pad_id

    def train_step(self, *args):
        if keras.backend.backend() != "tensorflow":  # JAX's train_step(state, data)
            return super().train_step(*args)
        import tensorflow as tf

        (data,) = args
        inputs, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        pad_id = self.real_token_pad_id(labels, sample_weight)
        if pad_id is None:
            return super().train_step(data)

        real = tf.not_equal(labels, pad_id)  # (B, T)
        # One "sequence" of the N real positions: the loss and metrics take [1, N] labels.
        real_labels = tf.boolean_mask(labels, real)[None]  # (1, N)
        with tf.GradientTape() as tape:
            hidden = self.hidden_states(inputs, training=True)  # (B, T, d)
            logits = self.logits(tf.boolean_mask(hidden, real)[None])  # (1, N, V)
            loss = self.compute_loss(x=inputs, y=real_labels, y_pred=logits, training=True)
            # As Keras' step: the tracker sees the loss before the per-replica scaling.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            self._loss_tracker.update_state(loss * replicas if replicas > 1 else loss,
                                            sample_weight=tf.shape(labels)[0])
            loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self.compute_metrics(inputs, real_labels, logits)
