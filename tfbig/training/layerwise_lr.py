"""Discriminative (layer-wise decayed) learning rates for fine-tuning.

Lower layers of a pretrained network hold general features that fine-tuning should
change little; upper layers and the new head must change most. ULMFiT gives each layer its
own rate (Howard & Ruder 2018, https://arxiv.org/abs/1801.06146, "discriminative
fine-tuning"), and BERT-family fine-tuning decays the rate layer by layer from the top
(ELECTRA, Clark et al. 2020, https://arxiv.org/abs/2003.10555, appendix; BEiT). With
``decay`` d and L blocks:

    head (and anything above the last block, e.g. the pooler)   × 1
    block L-1 (the top one)                                      × d
    block k                                                      × d^(L-k)
    embeddings (everything below block 0)                        × d^(L+1)

How: Adam divides each gradient by its own running RMS, so it is invariant to gradient
scale — multiplying gradients by d would change nothing. The learning rate itself must
differ per variable. Keras 3's optimizers pass the learning rate to
``update_step(gradient, variable, learning_rate)`` once per variable, so
:class:`LayerwiseAdamW` multiplies it there. Decoupled weight decay is ``lr · wd · w``
(Loshchilov & Hutter 2019), so it takes the variable's rate too, as PyTorch's AdamW does
with one parameter group per layer.
"""

import keras
from keras import ops

from tfbig.training.finetune_methods import backbone_stages
from tfbig.training.fused_adamw import FusedAdamW


def layer_lr_multipliers(backbone, decay):
    """``{variable.path: multiplier}`` for every variable of ``backbone``'s stages (the
    embeddings and the blocks); variables not listed (the head, a pooler) get 1.

    Args:
        backbone: a layer with a ``blocks`` list (``BertEncoder``).
        decay: the factor per block, in (0, 1]; 1 gives every variable 1.

    Example:
        >>> from tfbig.models.bert_encoder import BertEncoder
        >>> encoder = BertEncoder(vocabulary_size=20, num_layers=2, num_heads=2,
        ...                       hidden_dim=8, intermediate_dim=16, name="encoder")
        >>> encoder.build({"token_ids": (None, 4), "padding_mask": (None, 4)})
        >>> multipliers = layer_lr_multipliers(encoder, 0.5)
        >>> multipliers["encoder/block_1/feed_forward/inner/kernel"]  # top block: d
        0.5
        >>> multipliers["encoder/embedding/token_embedding/embeddings"]  # d^(L+1)
        0.125
    """
    stages = backbone_stages(backbone)  # bottom-up: embeddings, block 0, …, block L-1
    multipliers = {}
    for index, stage in enumerate(stages):
        depth = len(stages) - index  # top block 1, …, embeddings L + 1
        for layer in stage:
            for variable in layer.weights:
                multipliers[variable.path] = float(decay) ** depth
    return multipliers


@keras.saving.register_keras_serializable(package="tfbig")
class LayerwiseAdamW(FusedAdamW):
    """AdamW whose learning rate (and so its decoupled weight decay) is multiplied per
    variable: ``lr_multipliers[variable.path]``, 1 for a variable not listed.

    Works with any learning rate or schedule, ``tf.distribute`` strategies and XLA: the
    multipliers are Python floats folded into the traced update, looked up by the
    optimizer's own variable index.

    Args:
        lr_multipliers: ``{variable path: multiplier}``, e.g. from
            :func:`layer_lr_multipliers`. Can be replaced before the first train step
            (``optimizer.lr_multipliers = ...``), e.g. after adapters were added.
        **kwargs: ``keras.optimizers.AdamW``'s arguments (this is a
            :class:`~tfbig.training.fused_adamw.FusedAdamW`).

    Example:
        >>> dense = keras.layers.Dense(1, name="dense")
        >>> dense.build((None, 2))
        >>> optimizer = LayerwiseAdamW(lr_multipliers={"dense/kernel": 0.1},
        ...                            learning_rate=1.0, weight_decay=0.0)
        >>> optimizer.build(dense.trainable_variables)
        >>> optimizer.multiplier(dense.kernel), optimizer.multiplier(dense.bias)
        (0.1, 1.0)

    Reference:
        Howard & Ruder 2018, https://arxiv.org/abs/1801.06146 (discriminative fine-tuning).
    """

    def __init__(self, lr_multipliers=None, **kwargs):
        super().__init__(**kwargs)
        self._lr_multipliers = {str(path): float(value)
                                for path, value in (lr_multipliers or {}).items()}
        self._by_index = None  # multipliers in the order of the built trainable variables

    @property
    def lr_multipliers(self):
        return dict(self._lr_multipliers)

    @lr_multipliers.setter
    def lr_multipliers(self, multipliers):
        self._lr_multipliers = {str(path): float(value) for path, value in multipliers.items()}
        self._by_index = None

    def multiplier(self, variable):
        """The multiplier applied to ``variable`` (one the optimizer was built on)."""
        if self._by_index is None:
            # Keyed by the optimizer's own index: inside a distributed update the variable
            # is a per-replica tf.Variable, whose index Keras resolves and whose path is gone.
            self._by_index = tuple(self._lr_multipliers.get(v.path, 1.0)
                                   for v in self._trainable_variables)
        return self._by_index[self._get_variable_index(variable)]

    def _apply_weight_decay(self, variables):
        """Weight decay happens in :meth:`update_step`, with each variable's own rate
        (Keras applies it here with the one global rate)."""

    def update_step(self, gradient, variable, learning_rate):
        multiplier = self.multiplier(variable)
        learning_rate = ops.cast(learning_rate, variable.dtype) * multiplier
        if self.weight_decay and self._use_weight_decay(variable):
            # Decoupled decay, before the Adam step, on the not-yet-updated weight (the
            # order Keras uses): w ← w − lr·m·wd·w.
            decay = ops.cast(self.weight_decay, variable.dtype) * learning_rate
            self.assign_sub(variable, variable * decay)
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["lr_multipliers"] = dict(self._lr_multipliers)
        return config
