"""Token attributions for text classifiers by integrated gradients on the input embeddings.

For an input with token embeddings ``x`` (``[T, E]``) and a baseline ``x'``, the attribution
of token ``t`` to the logit ``F`` of a class is

    IG_t = sum_e (x - x')_te * ∫_0^1 ∂F(x' + α (x - x')) / ∂x_te dα

and the attributions are *complete*: ``sum_t IG_t = F(x) - F(x')``. The integral is a
trapezoid rule over ``steps`` intervals (``steps + 1`` points, one batch), so how far the sum
misses ``F(x) - F(x')`` measures the integration error; :func:`integrated_gradients`
reports it.

The baseline is the **zero embedding** at every attributed position (the words); [CLS],
[SEP] and [PAD] keep their own embeddings, so they get exactly zero attribution, and
position/segment embeddings and the padding mask stay as they are. The path runs through
the model's own token-embedding layer: while the gradients are taken, that layer returns
the interpolated embeddings instead of looking the ids up (any classifier whose token
embedding is a ``keras.layers.Embedding`` works: BERT, the LSTM and the CNN).

Reference: Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep Networks",
https://arxiv.org/abs/1703.01365
"""

import contextlib
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from tfbig.errors import TfbigError


@dataclass(frozen=True)
class Attribution:
    """One example's integrated gradients for the class ``target``."""

    attributions: np.ndarray  # [T] float64, one per position (0 where not attributed)
    target: int  # the class explained (the predicted one by default)
    logits: np.ndarray  # [classes] the model's logits for the input
    logit: float  # F(x): the target's logit for the input
    baseline_logit: float  # F(x'): the target's logit for the baseline

    @property
    def completeness_error(self):
        """``|sum(attributions) - (F(x) - F(x'))|``: 0 for the exact integral."""
        return abs(float(self.attributions.sum()) - (self.logit - self.baseline_logit))


def token_embedding_layer(model):
    """The ``keras.layers.Embedding`` that turns a classifier's token ids into vectors."""
    encoder = getattr(model, "encoder", None)
    layer = (getattr(getattr(encoder, "embedding", None), "token_embedding", None)
             if encoder is not None else getattr(model, "embedding", None))
    if not isinstance(layer, keras.layers.Embedding):
        raise TfbigError(f"{type(model).__name__} has no token embedding layer to attribute "
                         "through; expected a text classifier (BERT, RNN or CNN)")
    return layer


@contextlib.contextmanager
def _embeddings_replaced(layer, embeddings):
    """While open, ``layer(ids)`` returns ``embeddings`` (``[B, T, E]``) whatever the ids."""
    layer.call = lambda *args, **kwargs: embeddings  # an instance attribute hides the method
    try:
        yield
    finally:
        del layer.call


def trapezoid_weights(steps):
    """``[steps + 1]`` weights of the trapezoid rule on ``[0, 1]`` (they sum to 1)."""
    if steps < 1:
        raise TfbigError(f"steps must be >= 1, received {steps}")
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] /= 2
    return weights


def integrated_gradients(model, inputs, *, target=None, steps=50, attribute=None):
    """Integrated gradients of one example's logit for ``target`` (default: the argmax).

    Args:
        model: a text classifier, ``{"token_ids", "padding_mask"}`` → logits.
        inputs: ``{"token_ids": [T] or [1, T], "padding_mask": ..., ...}`` for one example.
        target: the class to explain; ``None`` for the predicted one.
        steps: trapezoid intervals from the baseline (α = 0) to the input (α = 1).
        attribute: bool ``[T]``: the positions to attribute (the others keep their
            embedding in the baseline); default: the real tokens (``padding_mask``).

    Returns: an :class:`Attribution`.
    """
    inputs = {key: np.asarray(value).reshape(-1) for key, value in inputs.items()}
    length = inputs["token_ids"].shape[0]
    attribute = inputs["padding_mask"].astype(bool) if attribute is None else np.asarray(
        attribute, bool)
    weights = trapezoid_weights(steps)
    layer = token_embedding_layer(model)
    batch = {key: np.repeat(value[None], steps + 1, axis=0) for key, value in inputs.items()}

    embedded = tf.cast(layer(inputs["token_ids"][None]), "float32")  # (1, T, E)
    baseline = embedded * (1.0 - tf.cast(attribute, "float32")[None, :, None])  # (1, T, E)
    alphas = tf.constant(np.linspace(0.0, 1.0, steps + 1), "float32")[:, None, None]
    with tf.GradientTape() as tape:
        path = baseline + alphas * (embedded - baseline)  # (steps + 1, T, E)
        tape.watch(path)
        with _embeddings_replaced(layer, tf.cast(path, layer.compute_dtype)):
            logits = tf.cast(model(batch, training=False), "float32")  # (steps + 1, classes)
        if target is None:
            target = int(np.argmax(logits[-1].numpy()))
        chosen = logits[:, target]  # (steps + 1,)
    gradients = tape.gradient(chosen, path).numpy().astype(np.float64)  # (steps + 1, T, E)
    average = np.tensordot(weights, gradients, axes=1)  # (T, E)
    difference = (embedded - baseline).numpy()[0].astype(np.float64)  # (T, E)
    attributions = (difference * average).sum(axis=-1)  # (T,)
    assert attributions.shape == (length,)
    chosen = chosen.numpy()
    return Attribution(attributions=attributions, target=target,
                       logits=logits[-1].numpy(), logit=float(chosen[-1]),
                       baseline_logit=float(chosen[0]))


@dataclass(frozen=True)
class TokenAttribution:
    """A text's word pieces with their attributions to the predicted label."""

    text: str
    tokens: list  # the word pieces, [CLS]/[SEP] included
    ids: np.ndarray  # [n] their ids
    scores: np.ndarray  # [n] their attributions ([CLS]/[SEP]: 0)
    label: str  # the predicted label
    result: Attribution

    def top(self, k=5):
        """The ``k`` word pieces with the largest attributions, ``[(token, score), ...]``."""
        order = [i for i in np.argsort(-self.scores, kind="stable") if self.scores[i] != 0]
        return [(self.tokens[i], float(self.scores[i])) for i in order[:k]]


def explain_texts(task, model, texts, *, steps=50):
    """:class:`TokenAttribution` of each text for a classify ``task``'s model, the word
    pieces exactly as the model sees them (the task's own pipeline tokenises)."""
    if not texts:
        return []
    vocabulary = task.tokenizer.vocabulary
    special = {0, task.tokenizer.cls_id, task.tokenizer.sep_id}
    placeholder = task.labels[0]  # the pipeline wants a label; it is not used
    batches = task.dataset([(text, placeholder) for text in texts], training=False,
                           batch_size=1)
    explained = []
    for text, (inputs, _) in zip(texts, batches):
        inputs = {key: value.numpy()[0] for key, value in inputs.items()}
        real = inputs["padding_mask"].astype(bool)
        ids = inputs["token_ids"]
        attribute = real & ~np.isin(ids, list(special))
        result = integrated_gradients(model, inputs, steps=steps, attribute=attribute)
        ids = ids[real]
        explained.append(TokenAttribution(
            text=text, tokens=[vocabulary[i] for i in ids], ids=ids,
            scores=result.attributions[real], label=task.labels[result.target], result=result))
    return explained


def format_explanation(explained, k=5):
    """``label<TAB>token +0.41, token +0.22, ...``: the label and its top ``k`` word pieces."""
    top = ", ".join(f"{token} {score:+.2f}" for token, score in explained.top(k))
    return f"{explained.label}\t{top}"
