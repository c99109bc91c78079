"""How much of a pretrained backbone to train: ``full``, ``freeze``, ``gradual``, ``lora``.

=========  ====================================================================================
method     what trains
=========  ====================================================================================
full       everything (the usual fine-tuning, with a small learning rate)
freeze     the new head only: the backbone is a fixed feature extractor
gradual    the head first, then one more backbone block per epoch, top block first
           (ULMFiT, Howard & Ruder 2018, https://arxiv.org/abs/1801.06146)
lora       the head, plus low-rank adapters ``W + (α/r)·A·B`` on the attention and
           feed-forward projections; every original backbone weight is frozen
           (Hu et al. 2021, https://arxiv.org/abs/2106.09685). Keras' own ``Dense.enable_lora``
           does the work; ``merge_lora`` folds ``A·B`` into ``W`` (a saved ``.keras`` model is
           merged the same way by Keras).
=========  ====================================================================================

A backbone here is any layer with a ``blocks`` list (``BertEncoder``, ``Encoder``,
``GPT``); the head is everything of the model outside it.
"""

import keras

from tfbig.config_fields import FINETUNE_METHODS as METHODS
from tfbig.errors import TfbigError
# Dense layers that get adapters, by their names inside the attention / feed-forward layers.
LORA_TARGETS = ("query", "key", "value", "attention_output", "inner", "outer")


def _leaf_layers(layer):
    return [sub for sub in layer._flatten_layers(include_self=False, recursive=True)
            if not list(sub._flatten_layers(include_self=False, recursive=False))]


def backbone_stages(backbone):
    """Bottom-up groups of a backbone's layers: the layers below the first block (the
    embeddings), then each block — what gradual unfreezing and layer-wise learning rates
    step through.

    Layers above the last block (a pooler, a final norm) are not in any stage: they sit
    next to the head and are treated like it.
    """
    blocks = list(backbone.blocks)
    children = [layer for layer in backbone._flatten_layers(include_self=False,
                                                            recursive=False)
                if not isinstance(layer, keras.layers.Dropout)]
    first = min(children.index(block) for block in blocks)
    return [children[:first]] + [[block] for block in blocks]


def apply_method(backbone, method, *, lora_rank=8, lora_alpha=None):
    """Set which variables of ``backbone`` train; return the callbacks the method needs.

    Call it after the model is built and before ``compile``. The model's head (anything
    outside ``backbone``) keeps training in every method. For ``gradual``, build the
    optimizer on all variables first (see :class:`GradualUnfreezing`).
    """
    if method not in METHODS:
        raise TfbigError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    backbone.trainable = True
    if method == "freeze":
        backbone.trainable = False
    elif method == "gradual":
        callback = GradualUnfreezing(backbone)
        callback.set_unfrozen(0)
        return [callback]
    elif method == "lora":
        if lora_rank < 1:
            raise TfbigError(f"--lora-rank must be >= 1, received {lora_rank}")
        enable_lora(backbone, lora_rank, lora_alpha)
    return []


def enable_lora(backbone, rank, alpha=None):
    """Freeze every backbone weight and add trainable rank-``rank`` adapters to its
    attention and feed-forward projections. Returns the adapted Dense layers."""
    adapted = []
    for layer in _leaf_layers(backbone):
        if isinstance(layer, keras.layers.Dense) and layer.name in LORA_TARGETS:
            layer.enable_lora(rank, lora_alpha=alpha)  # freezes the kernel itself
            if layer.bias is not None:
                layer.bias.trainable = False
            adapted.append(layer)
        else:
            layer.trainable = False
    if not adapted:
        raise TfbigError("--method lora: the backbone has no attention/feed-forward Dense "
                         f"layers named {', '.join(LORA_TARGETS)}")
    return adapted


def merge_lora(model):
    """Fold every adapter into its kernel (``W ← W + (α/r)·A·B``, then ``A·B ← 0``).

    The outputs do not change; afterwards the kernels alone hold the fine-tuned weights
    (what an export wants).
    """
    for layer in _leaf_layers(model):
        if isinstance(layer, keras.layers.Dense) and getattr(layer, "lora_enabled", False):
            merged = layer.kernel  # Keras' kernel property is W + (α/r)·A·B
            layer._kernel.assign(merged)
            layer.lora_kernel_a.assign(keras.ops.zeros(layer.lora_kernel_a.shape))
            layer.lora_kernel_b.assign(keras.ops.zeros(layer.lora_kernel_b.shape))


class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreeze the backbone top-down: epoch 0 trains the head only, epoch ``k`` also the
    top ``k`` blocks, until all blocks and then the embeddings train.

    Keras traces the train step with the trainable variables of that moment, so the
    callback asks for a new train function whenever it unfreezes something. Build the
    optimizer for every variable *before* :func:`apply_method` freezes them, so the slots
    of later-unfrozen variables exist: ``optimizer.build(model.trainable_variables)``.
    """

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.unfrozen = None

    @property
    def stages(self):
        """Bottom-up groups of layers (see :func:`backbone_stages`)."""
        return backbone_stages(self.backbone)

    def set_unfrozen(self, count):
        """Make the top ``count`` stages trainable and the rest frozen."""
        stages = self.stages
        count = min(count, len(stages))
        self.backbone.trainable = True
        for index, stage in enumerate(stages):
            for layer in stage:
                layer.trainable = index >= len(stages) - count
        changed = count != self.unfrozen
        self.unfrozen = count
        return changed

    def on_epoch_begin(self, epoch, logs=None):
        if self.set_unfrozen(epoch) and epoch > 0:
            self.model.make_train_function(force=True)
