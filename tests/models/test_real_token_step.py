"""The real-token training step: the same loss, metrics and updates as Keras' step, with
the vocabulary head run only on positions that have a label."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbig.losses import MaskedSparseCrossentropy
from tfbig.metrics import MaskedAccuracy
from tfbig.models import (GPT, BertEncoder, BertMaskedLM, RNNSeq2Seq, Transformer,
                          real_token_step)

VOCAB = 23  # small and fast; the tests lower MIN_VOCABULARY to it


@pytest.fixture(autouse=True)
def any_vocabulary(monkeypatch):
    monkeypatch.setattr(real_token_step, "MIN_VOCABULARY", VOCAB)


def padded_ids(rng, batch, length, low=1):
    ids = rng.integers(low, VOCAB, (batch, length)).astype("int32")
    for row, keep in enumerate(rng.integers(1, length + 1, batch)):
        ids[row, keep:] = 0
    return ids


def transformer_case(rng):
    def make():
        return Transformer(num_layers=1, d_model=16, num_heads=2, dff=32,
                           input_vocab_size=VOCAB, target_vocab_size=VOCAB, dropout_rate=0.0)
    target = padded_ids(rng, 6, 9)
    return make, (padded_ids(rng, 6, 7), target[:, :-1]), target[:, 1:]


def gpt_case(rng):
    def make():
        return GPT(vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=16,
                   intermediate_dim=32, max_sequence_length=16, dropout=0.0)
    ids = padded_ids(rng, 6, 9)
    return make, ids[:, :-1], ids[:, 1:]


def masked_lm_case(rng):
    def make():
        encoder = BertEncoder(vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=16,
                              intermediate_dim=32, max_sequence_length=16, dropout=0.0)
        return BertMaskedLM(encoder)
    ids = padded_ids(rng, 6, 8, low=5)
    labels = np.where(rng.random(ids.shape) < 0.3, ids, 0).astype("int32")  # ~30% scored
    inputs = {"token_ids": np.where(labels > 0, 4, ids).astype("int32"),
              "padding_mask": ids > 0}
    return make, inputs, labels


def rnn_case(rng):
    def make():
        return RNNSeq2Seq(VOCAB, VOCAB, embedding_dim=16, units=16, dropout=0.0)
    target = padded_ids(rng, 6, 9)
    return make, (padded_ids(rng, 6, 7), target[:, :-1]), target[:, 1:]


CASES = {"transformer": transformer_case, "gpt": gpt_case, "masked_lm": masked_lm_case,
         "rnn_seq2seq": rnn_case}


def twins(make, inputs):
    """Two models with the same weights; the second is forced onto Keras' own step."""
    ours, keras_step = make(), make()
    ours(inputs)
    keras_step(inputs)
    keras_step.set_weights(ours.get_weights())
    keras_step.real_token_pad_id = lambda *args, **kwargs: None
    for model in (ours, keras_step):
        # SGD: an update proportional to the gradient (Adam would magnify float noise in
        # near-zero gradients into sign flips).
        model.compile(optimizer=keras.optimizers.SGD(0.5),
                      loss=MaskedSparseCrossentropy(label_smoothing=0.1),
                      metrics=[MaskedAccuracy()])
    return ours, keras_step


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_loss_metrics_and_weights_as_keras_step(case):
    make, inputs, labels = CASES[case](np.random.default_rng(0))
    ours, keras_step = twins(make, inputs)
    head_rows = []
    original_logits = ours.logits
    ours.logits = lambda hidden: head_rows.append(hidden.shape) or original_logits(hidden)

    histories = [model.fit(inputs, labels, batch_size=3, epochs=2, shuffle=False,
                           verbose=0).history for model in (ours, keras_step)]
    for key in ("loss", "masked_accuracy"):
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(ours.get_weights(), keras_step.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
    # The fast step ran: its head saw one row of gathered positions, not [batch, T].
    assert head_rows and all(shape[0] == 1 and shape[1] is None for shape in head_rows)
    assert ours.real_token_pad_id(tf.constant(labels)) == 0 and ours.head_vocabulary_size == VOCAB


def test_other_compile_settings_keep_keras_step():
    make, inputs, labels = transformer_case(np.random.default_rng(1))
    model = make()
    model(inputs)
    labels = tf.constant(labels)

    def pad_id(**compile_args):
        model.compile(**{"optimizer": "adam", "loss": MaskedSparseCrossentropy(),
                         "metrics": [MaskedAccuracy()], **compile_args})
        return model.real_token_pad_id(labels)

    assert pad_id() == 0
    assert pad_id(loss=MaskedSparseCrossentropy(pad_id=3),
                  metrics=[MaskedAccuracy(pad_id=3)]) == 3
    assert pad_id(metrics=["accuracy"]) is None  # would count padding: not the same number
    assert pad_id(metrics=[MaskedAccuracy(pad_id=3)]) is None
    assert pad_id(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[]) is None
    assert pad_id(jit_compile=True) is None  # the gathered row count is not static
    real_token_step.MIN_VOCABULARY = VOCAB + 1  # a head too small to pay (monkeypatched)
    assert pad_id() is None
    real_token_step.MIN_VOCABULARY = VOCAB
    model.compile(optimizer="adam", loss=MaskedSparseCrossentropy(), metrics=[MaskedAccuracy()])
    assert model.real_token_pad_id(labels, sample_weight=tf.ones(labels.shape[:1])) is None
    assert model.real_token_pad_id(tf.cast(labels, "float32")) is None


def test_keras_step_still_trains_with_sample_weights():
    make, inputs, labels = transformer_case(np.random.default_rng(2))
    model = make()
    model.compile(optimizer="adam", loss=MaskedSparseCrossentropy(), metrics=[MaskedAccuracy()])
    history = model.fit(inputs, labels, sample_weight=np.ones(len(labels), "float32"),
                        batch_size=3, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])


def test_a_batch_of_padding_only_gives_a_zero_loss_step():
    make, inputs, labels = gpt_case(np.random.default_rng(3))
    model = make()
    model.compile(optimizer="adam", loss=MaskedSparseCrossentropy(), metrics=[MaskedAccuracy()])
    history = model.fit(inputs, np.zeros_like(labels), batch_size=6, epochs=1,
                        verbose=0).history
    assert history["loss"] == [0.0] and history["masked_accuracy"] == [0.0]
