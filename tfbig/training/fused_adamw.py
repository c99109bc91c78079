"""AdamW whose Adam step is one fused kernel per variable on TensorFlow.

Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980, algorithm 1 with the "efficient"
step size of section 2):

    m ← m + (1 − β₁)(g − m)              v ← v + (1 − β₂)(g² − v)
    α_t = lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ)    w ← w − α_t · m / (√v + ε)

``keras.optimizers.Adam`` writes this as about a dozen element-wise ops per variable, each
a full pass over memory; TensorFlow's ``ResourceApplyAdam`` kernel is the same formula in
one multi-threaded pass (it is what Keras 2's Adam ran). At the benchmark's reference
config (13.5 M parameters) the optimizer was about 6% of a training step's op time.
Global-norm clipping (Pascanu et al. 2013), ``g ← g · min(1, c / ‖g‖)`` with ``‖g‖`` the
norm of all gradients together, takes ``‖g‖²`` from ``tf.nn.l2_loss`` (``Σg²/2``, one pass
per gradient) where Keras' ``global_norm`` first squares every gradient into a new tensor
and then sums it. Decoupled weight decay stays Keras' own. So this is
``keras.optimizers.AdamW`` with the same variables, the same config and the same result;
other backends, and ``amsgrad``, take Keras' own step.
"""

import threading

import keras

# Set while one replica's step is traced, between its clip and its update (below).
_summed = threading.local()


@keras.saving.register_keras_serializable(package="tfbig")
class FusedAdamW(keras.optimizers.AdamW):
    """``keras.optimizers.AdamW`` with TensorFlow's fused Adam kernel (see the module).

    Example:
        >>> import numpy as np
        >>> variable = keras.Variable(np.ones(3, "float32"))
        >>> optimizer = FusedAdamW(learning_rate=0.1, weight_decay=0.0)
        >>> optimizer.apply([np.full(3, 0.5, "float32")], [variable])
        >>> np.asarray(variable).astype(float).round(4).tolist()  # Adam's first step: w − lr·sign(g)
        [0.9, 0.9, 0.9]
    """

    def _get_current_learning_rate(self):
        # With gradient accumulation Keras evaluates a schedule at its batch counter
        # (`_iterations`), N× ahead of the updates; tfbig's schedules count updates
        # (`iterations`), so warm-up and decay span the same updates at any N.
        if (self.gradient_accumulation_steps and isinstance(
                self._learning_rate, keras.optimizers.schedules.LearningRateSchedule)):
            return self._learning_rate(self.iterations)
        return super()._get_current_learning_rate()

    def _clip_gradients(self, grads):
        if (keras.backend.backend() != "tensorflow" or not self.global_clipnorm
                or self.clipnorm or self.clipvalue):
            return super()._clip_gradients(grads)
        import tensorflow as tf

        # Under several replicas Keras clips each replica's share of the gradient (its
        # loss is divided by the replica count) before it sums them in
        # `_backend_update_step`: the norm it clips is not the batch gradient's, so
        # `clipnorm` means something else on 2 GPUs than on one. Sum first, clip the sum,
        # and tell `_all_reduce_sum_gradients` that the sum is done (one all-reduce, as
        # before; only the order changes).
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            # Dense, as Keras' own order all-reduced them (its clip densifies an embedding's
            # IndexedSlices): slices hold a different number of rows on each replica.
            present = [tf.convert_to_tensor(g) for g in grads if g is not None]
            summed = iter(replica.all_reduce(tf.distribute.ReduceOp.SUM, present))
            grads = [None if g is None else next(summed) for g in grads]
            # Per thread: MirroredStrategy traces each replica's step in a thread of its own.
            _summed.here = True

        # As Keras' clip_by_global_norm, with the sum of squares fused (see the module).
        # An embedding's IndexedSlices counts its rows as they are (repeated ids are not
        # summed first), as in Keras and tf.clip_by_global_norm.
        def values(g):
            return g.values if isinstance(g, tf.IndexedSlices) else g

        norm = tf.sqrt(2.0 * tf.add_n([tf.cast(tf.nn.l2_loss(values(g)), "float32")
                                       for g in grads if g is not None]))
        clip = tf.cast(self.global_clipnorm, "float32")
        # Keras' form: a finite norm gives min(1, c/‖g‖); an inf/NaN norm gives NaN.
        scale = clip * tf.minimum(1.0 / norm, 1.0 / clip) + (norm - norm)
        # Like Keras' `v * scale`, this makes an IndexedSlices dense (update_step would).
        return [None if g is None else g * tf.cast(scale, g.dtype) for g in grads]

    def _all_reduce_sum_gradients(self, grads_and_vars):
        if getattr(_summed, "here", False):  # this replica summed before clipping (above)
            _summed.here = False
            return list(grads_and_vars)
        return super()._all_reduce_sum_gradients(grads_and_vars)

    def update_step(self, gradient, variable, learning_rate):
        if keras.backend.backend() != "tensorflow" or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        momentum, velocity = self._momentums[index], self._velocities[index]
        # An embedding's gradient arrives as IndexedSlices; Keras' step densifies it too.
        gradient = tf.cast(tf.convert_to_tensor(gradient), dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=momentum.handle, v=velocity.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=gradient, use_locking=False)
