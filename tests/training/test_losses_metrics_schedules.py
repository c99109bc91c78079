"""Masked loss and accuracy against NumPy; learning-rate schedules against their formulas;
the optimizer's weight-decay exclusions."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from tfbig.config import TrainConfig
from tfbig.losses import MaskedSparseCrossentropy
from tfbig.metrics import MaskedAccuracy
from tfbig.training.optimizers import build_optimizer, build_schedule
from tfbig.training.schedules import TransformerSchedule, WarmupDecaySchedule

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(2, 5, 7)).astype("float32") * 3
LABELS = np.array([[3, 1, 6, 0, 0],
                   [2, 2, 5, 4, 0]], "int32")  # 7 real tokens, 3 padding


def numpy_log_softmax(logits):
    logits = np.asarray(logits, "float64")
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def numpy_masked_cross_entropy(labels, logits, epsilon=0.0):
    log_probs = numpy_log_softmax(logits)
    vocab = logits.shape[-1]
    target = (1 - epsilon) * np.eye(vocab)[labels] + epsilon / vocab  # smoothed one-hot
    per_token = -(target * log_probs).sum(-1)
    mask = labels != 0
    return per_token[mask].mean()


def value(x):
    return float(ops.convert_to_numpy(x))


# --- MaskedSparseCrossentropy ----------------------------------------------------------

def test_loss_is_the_mean_over_real_tokens():
    loss = value(MaskedSparseCrossentropy()(LABELS, LOGITS))
    assert loss == pytest.approx(numpy_masked_cross_entropy(LABELS, LOGITS), rel=1e-5)
    # Padding positions contribute nothing, whatever their logits.
    changed = LOGITS.copy()
    changed[LABELS == 0] = 100.0 * RNG.normal(size=changed[LABELS == 0].shape)
    assert value(MaskedSparseCrossentropy()(LABELS, changed)) == pytest.approx(loss, rel=1e-6)


@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_label_smoothing_matches_numpy(epsilon):
    loss = value(MaskedSparseCrossentropy(label_smoothing=epsilon)(LABELS, LOGITS))
    expected = numpy_masked_cross_entropy(LABELS, LOGITS, epsilon)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert loss != pytest.approx(numpy_masked_cross_entropy(LABELS, LOGITS), rel=1e-3)


def test_loss_of_all_padding_is_zero_not_nan():
    assert value(MaskedSparseCrossentropy()(np.zeros((2, 3), "int32"), LOGITS[:, :3])) == 0.0


def test_loss_custom_pad_id():
    loss = value(MaskedSparseCrossentropy(pad_id=2)(LABELS, LOGITS))
    log_probs = numpy_log_softmax(LOGITS)
    per_token = -np.take_along_axis(log_probs, LABELS[..., None], -1)[..., 0]
    assert loss == pytest.approx(per_token[LABELS != 2].mean(), rel=1e-5)


def test_loss_rejects_bad_label_smoothing():
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), received 1.0"):
        MaskedSparseCrossentropy(label_smoothing=1.0)


def test_loss_config_round_trip():
    loss = MaskedSparseCrossentropy(label_smoothing=0.1, pad_id=1, name="ce")
    config = loss.get_config()
    assert config["label_smoothing"] == 0.1 and config["pad_id"] == 1
    clone = MaskedSparseCrossentropy.from_config(config)
    assert clone.get_config() == config
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, MaskedSparseCrossentropy)
    assert value(restored(LABELS, LOGITS)) == pytest.approx(value(loss(LABELS, LOGITS)))


# --- MaskedAccuracy -------------------------------------------------------------------

def test_accuracy_ignores_padding():
    predictions = LOGITS.argmax(-1)
    metric = MaskedAccuracy()
    metric.update_state(LABELS, LOGITS)
    expected = (predictions == LABELS)[LABELS != 0].mean()
    assert value(metric.result()) == pytest.approx(expected)
    # A prediction at a padded position that matches the label 0 is not counted either.
    perfect = np.eye(7, dtype="float32")[LABELS]  # argmax == label everywhere, padding too
    metric.reset_state()
    metric.update_state(LABELS, perfect)
    assert value(metric.result()) == 1.0
    assert value(metric.total) == 7.0


def test_accuracy_accumulates_and_resets():
    metric = MaskedAccuracy()
    right = np.eye(7, dtype="float32")[LABELS]
    wrong = np.eye(7, dtype="float32")[(LABELS + 1) % 7]
    metric.update_state(LABELS, right)
    metric.update_state(LABELS, wrong)
    assert value(metric.result()) == pytest.approx(0.5)
    metric.reset_state()
    assert value(metric.result()) == 0.0  # no tokens: 0, not NaN


def test_accuracy_sample_weight():
    metric = MaskedAccuracy()
    right = np.eye(7, dtype="float32")[LABELS]
    wrong = np.eye(7, dtype="float32")[(LABELS + 1) % 7]
    both = np.stack([right[0], wrong[1]])
    metric.update_state(LABELS, both, sample_weight=np.array([[1.0], [0.0]]))
    assert value(metric.result()) == 1.0


def test_accuracy_config_round_trip():
    metric = MaskedAccuracy(pad_id=3, name="acc")
    config = metric.get_config()
    assert config["pad_id"] == 3 and config["name"] == "acc"
    assert MaskedAccuracy.from_config(config).get_config() == config


# --- Schedules ------------------------------------------------------------------------

def schedule_values(schedule, iterations):
    return np.array([value(schedule(i)) for i in iterations])


@pytest.mark.parametrize("d_model,warmup", [(512, 4000), (64, 10)])
def test_transformer_schedule_is_the_papers_formula(d_model, warmup):
    schedule = TransformerSchedule(d_model=d_model, warmup_steps=warmup)
    for step in (1, 2, warmup // 2, warmup - 1, warmup, warmup + 1, 3 * warmup, 100 * warmup):
        expected = d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)
        # The schedule receives optimizer.iterations, which is step - 1.
        assert value(schedule(step - 1)) == pytest.approx(expected, rel=1e-5)


def test_transformer_schedule_with_a_peak():
    schedule = TransformerSchedule(d_model=64, warmup_steps=20, peak_learning_rate=1e-3)
    values = schedule_values(schedule, range(100))
    assert values.max() == pytest.approx(1e-3, rel=1e-6)
    assert values.argmax() == 19  # iteration warmup - 1 is step warmup
    assert np.all(np.diff(values[:20]) > 0) and np.all(np.diff(values[19:]) < 0)


def test_transformer_schedule_rejects_zero_warmup():
    with pytest.raises(ValueError, match=r"warmup_steps must be >= 1, received 0"):
        TransformerSchedule(d_model=64, warmup_steps=0)


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_warmup_decay_schedule(decay):
    peak, warmup, total = 2e-3, 10, 50
    schedule = WarmupDecaySchedule(peak, warmup, total, decay=decay)
    values = schedule_values(schedule, range(60))
    for iteration, got in enumerate(values):
        step = iteration + 1
        if step <= warmup:
            expected = peak * step / warmup
        else:
            progress = min((step - warmup) / (total - warmup), 1.0)
            expected = peak * ((1 - progress) if decay == "linear"
                               else 0.5 * (1 + math.cos(math.pi * progress)))
        assert got == pytest.approx(expected, rel=1e-5, abs=peak * 1e-5)  # float32 cos
    assert values.max() == pytest.approx(peak)
    assert values[total - 1:].max() == pytest.approx(0.0, abs=1e-12)  # 0 from total on
    assert values[(warmup + total) // 2 - 1] == pytest.approx(peak / 2)  # half-way: peak / 2
    if decay == "cosine":  # cosine stays higher than linear early, lower late
        linear = schedule_values(WarmupDecaySchedule(peak, warmup, total), range(60))
        assert values[15] > linear[15] and values[45] < linear[45]


@pytest.mark.parametrize("arguments,message", [
    (dict(decay="step"), r"decay must be 'linear' or 'cosine', received 'step'"),
    (dict(total_steps=10), r"total_steps \(10\) must exceed warmup_steps \(10\)"),
])
def test_warmup_decay_schedule_rejects_bad_arguments(arguments, message):
    options = dict(peak_learning_rate=1e-3, warmup_steps=10, total_steps=50)
    options.update(arguments)
    with pytest.raises(ValueError, match=message):
        WarmupDecaySchedule(**options)


@pytest.mark.parametrize("schedule", [
    TransformerSchedule(d_model=64, warmup_steps=10),
    TransformerSchedule(d_model=64, warmup_steps=10, peak_learning_rate=5e-4),
    WarmupDecaySchedule(1e-3, 5, 40, decay="cosine"),
], ids=["transformer", "transformer_peak", "warmup_cosine"])
def test_schedule_config_round_trip(schedule):
    config = schedule.get_config()
    clone = type(schedule).from_config(config)
    assert clone.get_config() == config
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule))
    assert type(restored) is type(schedule)
    np.testing.assert_allclose(schedule_values(restored, [0, 7, 30]),
                               schedule_values(schedule, [0, 7, 30]))


# --- Optimizer ------------------------------------------------------------------------

def test_build_schedule_choices():
    assert build_schedule(TrainConfig(schedule="constant", learning_rate=0.01), 64, 100) == 0.01
    paper = build_schedule(TrainConfig(schedule="transformer", learning_rate=0.0), 64, 100)
    assert isinstance(paper, TransformerSchedule) and paper.peak_learning_rate is None
    cosine = build_schedule(TrainConfig(schedule="cosine", warmup_steps=10), 64, 100)
    assert isinstance(cosine, WarmupDecaySchedule) and cosine.decay == "cosine"
    assert (cosine.warmup_steps, cosine.total_steps) == (10, 100)


def test_weight_decay_skips_biases_and_layer_norm():
    keras.utils.set_random_seed(0)
    dense = keras.layers.Dense(3)
    norm = keras.layers.LayerNormalization()
    dense.build((None, 4))
    norm.build((None, 3))
    for variable in dense.weights + norm.weights:  # non-zero everywhere: decay is visible
        variable.assign(np.full(variable.shape, 2.0, "float32"))
    variables = dense.trainable_weights + norm.trainable_weights
    optimizer = build_optimizer(
        TrainConfig(schedule="constant", learning_rate=0.1, weight_decay=0.5), 8, 10)
    # A zero gradient leaves Adam's update at 0: only the decoupled decay moves a weight.
    optimizer.apply_gradients([(ops.zeros_like(v), v) for v in variables])
    after = {v.path: ops.convert_to_numpy(v) for v in variables}
    np.testing.assert_allclose(after[dense.kernel.path], 2.0 * (1 - 0.1 * 0.5), rtol=1e-6)
    for excluded in (dense.bias, norm.gamma, norm.beta):
        np.testing.assert_array_equal(after[excluded.path], 2.0)
