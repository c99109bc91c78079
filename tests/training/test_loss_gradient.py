"""The fused masked cross-entropy's gradient against its closed form, in NumPy.

    ∂loss/∂z_t = m_t · (softmax(z_t) − target_t) / Σ m,   target = (1−ε)·onehot + ε/V

(the loss uses TensorFlow's fused sparse soft-max cross-entropy, so its backward pass is not
the textbook one: this checks it is the same function, padding and smoothing included).
"""

import numpy as np
import pytest
import tensorflow as tf

from tfbig.losses import MaskedSparseCrossentropy

RNG = np.random.default_rng(1)
LOGITS = (RNG.normal(size=(3, 6, 11)) * 4).astype("float32")
LABELS = np.array([[3, 1, 6, 10, 0, 0],
                   [2, 2, 5, 4, 9, 0],
                   [7, 0, 0, 0, 0, 0]], "int32")


def numpy_gradient(labels, logits, epsilon, pad_id):
    logits = logits.astype("float64")
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    target = (1 - epsilon) * np.eye(logits.shape[-1])[labels] + epsilon / logits.shape[-1]
    mask = (labels != pad_id)[..., None]
    return mask * (probs - target) / mask.sum()


@pytest.mark.parametrize("epsilon,pad_id", [(0.0, 0), (0.1, 0), (0.2, 2)])
def test_gradient_matches_the_closed_form(epsilon, pad_id):
    logits = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        loss = MaskedSparseCrossentropy(label_smoothing=epsilon, pad_id=pad_id)(LABELS, logits)
    gradient = tape.gradient(loss, logits).numpy()
    np.testing.assert_allclose(gradient, numpy_gradient(LABELS, LOGITS, epsilon, pad_id),
                               atol=1e-6)
    # Padded positions get no gradient at all (not merely a small one).
    assert not gradient[LABELS == pad_id].any()


def test_half_precision_logits_give_a_float32_loss():
    loss = MaskedSparseCrossentropy()(LABELS, tf.cast(LOGITS, "bfloat16"))
    assert loss.dtype == tf.float32 and np.isfinite(loss.numpy())
