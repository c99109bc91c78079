"""The recurrent models: padding is skipped (not read), saving, training, bad cells."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from models.model_checks import (  # noqa: E402
    assert_config_round_trip, assert_fit_decreases, assert_save_load, outputs_of)

from tfbig.errors import TfbigError  # noqa: E402
from tfbig.models import RNNClassifier, RNNSeq2Seq  # noqa: E402

TOKENS = np.array([[5, 6, 7, 8, 0, 0],
                   [9, 10, 11, 12, 13, 14],
                   [15, 16, 0, 0, 0, 0]], "int32")
INPUTS = {"token_ids": TOKENS, "padding_mask": TOKENS != 0}
LABELS = np.array([0, 1, 2])
TARGET = np.array([[2, 8, 7, 6, 5],
                   [2, 14, 13, 0, 0],
                   [2, 16, 15, 0, 0]], "int32")


def padded(array, extra):
    return np.pad(array, ((0, 0), (0, extra)))


@pytest.mark.parametrize("cell, bidirectional", [("lstm", True), ("gru", False)])
def test_classifier_ignores_padding_saves_and_trains(cell, bidirectional, tmp_path):
    keras.utils.set_random_seed(6)
    model = RNNClassifier(20, num_classes=3, embedding_dim=8, units=8, cell=cell,
                          bidirectional=bidirectional, dropout=0.0)
    logits = outputs_of(model, INPUTS)
    assert logits.shape == (3, 3)
    more = {key: padded(value, 3) for key, value in INPUTS.items()}
    np.testing.assert_allclose(outputs_of(model, more), logits, atol=1e-5)
    assert_config_round_trip(model)
    assert_save_load(model, INPUTS, tmp_path)
    if cell == "lstm":  # one learning test is enough; RNN steps are slow on CPU
        assert_fit_decreases(model, INPUTS, LABELS)


@pytest.fixture(scope="module")
def seq2seq():
    keras.utils.set_random_seed(7)
    model = RNNSeq2Seq(20, 18, embedding_dim=8, units=8, cell="lstm", dropout=0.0)
    model((TOKENS, TARGET))
    return model


def test_seq2seq_shapes_and_padding_invariance(seq2seq):
    logits = outputs_of(seq2seq, (TOKENS, TARGET))
    assert logits.shape == (3, 5, 18) and logits.dtype == np.float32
    # More source padding: nothing changes. More target padding: real positions unchanged.
    np.testing.assert_allclose(outputs_of(seq2seq, (padded(TOKENS, 3), TARGET)), logits,
                               atol=1e-5)
    longer = outputs_of(seq2seq, (TOKENS, padded(TARGET, 2)))[:, :5]
    real = TARGET != 0
    np.testing.assert_allclose(longer[real], logits[real], atol=1e-5)


def test_seq2seq_attends_to_the_source(seq2seq):
    changed = TOKENS.copy()
    changed[1, 2] = 17  # a token in the middle, not the last one the encoder read
    assert not np.allclose(outputs_of(seq2seq, (changed, TARGET))[1],
                           outputs_of(seq2seq, (TOKENS, TARGET))[1])


def test_seq2seq_gru_saves_and_trains(tmp_path):
    keras.utils.set_random_seed(8)
    model = RNNSeq2Seq(20, 18, embedding_dim=8, units=8, cell="gru", dropout=0.0)
    model((TOKENS, TARGET))
    assert_config_round_trip(model)
    assert_save_load(model, (TOKENS, TARGET), tmp_path)
    assert_fit_decreases(model, (TOKENS, TARGET[:, :-1]), TARGET[:, 1:], steps=3)


def test_unknown_cell_is_explained():
    with pytest.raises(TfbigError, match="cell must be one of lstm, gru; received 'rnn'"):
        RNNClassifier(20, 2, cell="rnn")
    with pytest.raises(TfbigError, match="cell must be one of lstm, gru; received 'LSTM'"):
        RNNSeq2Seq(20, 20, cell="LSTM")
