"""Attention rollout: how much each input token flows into each position after all layers.

Each layer's attention, averaged over heads, is mixed with the identity for the residual
connection, ``Â = 0.5 A + 0.5 I``, renormalised by rows, and the layers are multiplied from
the first up: ``R = Â_L ··· Â_2 Â_1``. Row ``i`` of ``R`` says how much of position ``i``'s
final vector comes from each input token; for BERT's classifier, row 0 ([CLS]) is the
rollout behind the label.

Reference: Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers",
https://arxiv.org/abs/2005.00928
"""

import numpy as np

from tfbig.errors import TfbigError


def attention_rollout(weights, residual=0.5):
    """Rollout of one example's attention maps.

    Args:
        weights: one ``[heads, T, T]`` array per layer (first layer first), queries down,
            keys across, each row a distribution.
        residual: the identity's share in each layer (0.5 in the paper).

    Returns: float64 ``[T, T]``, each row summing to 1.

    Example:
        >>> import numpy as np
        >>> uniform = np.full((2, 3, 3), 1 / 3)  # two heads, three tokens
        >>> attention_rollout([uniform, uniform]).sum(axis=-1).round(6).tolist()
        [1.0, 1.0, 1.0]
    """
    if not len(weights):
        raise TfbigError("attention_rollout needs at least one layer's weights; received none")
    rollout = None
    for layer, attention in enumerate(weights):
        attention = np.asarray(attention, np.float64)
        if attention.ndim != 3 or attention.shape[1] != attention.shape[2]:
            raise TfbigError(f"layer {layer}'s attention has shape {attention.shape}; "
                             "expected [heads, T, T] (for a batch, pass one example's maps)")
        mixed = (1 - residual) * attention.mean(axis=0) + residual * np.eye(attention.shape[1])
        mixed /= mixed.sum(axis=-1, keepdims=True)  # (T, T)
        rollout = mixed if rollout is None else mixed @ rollout
    return rollout


def classifier_rollout(model, inputs):
    """Rollout over the real tokens of one example for a BERT classifier, ``[n, n]``; None
    for a model without attention maps (the LSTM, the CNN).

    ``inputs``: ``{"token_ids": [T], "padding_mask": [T], ...}`` for one example.
    """
    encoder = getattr(model, "encoder", None)
    if not hasattr(encoder, "attention_scores"):
        return None
    real = np.asarray(inputs["padding_mask"], bool).reshape(-1)
    batch = {key: np.asarray(value).reshape(1, -1) for key, value in inputs.items()}
    n = int(real.sum())  # real tokens come first: padding is on the right
    # Queries never attend to padded keys, so the real rows of the real block already sum
    # to 1: the rollout over the real tokens is that block's rollout.
    maps = [np.asarray(layer)[0, :, :n, :n] for layer in encoder.attention_scores(batch)]
    return attention_rollout(maps)
