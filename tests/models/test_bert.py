"""BERT: the encoder's layout and numerics (what a Hugging Face checkpoint needs), padding
invariance, the masked-LM and classifier tasks, saving and training."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import math  # noqa: E402
import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from models.model_checks import (  # noqa: E402
    assert_config_round_trip, assert_fit_decreases, assert_save_load, outputs_of)

from tfbig.errors import TfbigError  # noqa: E402
from tfbig.losses import MaskedSparseCrossentropy  # noqa: E402
from tfbig.models import BertClassifier, BertEncoder, BertMaskedLM  # noqa: E402

VOCAB, HIDDEN = 30, 8
TOKENS = np.array([[4, 9, 10, 11, 5, 0],
                   [4, 12, 5, 13, 14, 5],
                   [4, 15, 5, 0, 0, 0]], "int32")
INPUTS = {"token_ids": TOKENS, "padding_mask": TOKENS != 0}
LABELS = np.array([0, 1, 2])


def padded(inputs, extra):
    """The same batch with ``extra`` more padding columns on the right."""
    return {key: np.pad(value, ((0, 0), (0, extra))) for key, value in inputs.items()}


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(1)
    encoder = BertEncoder(VOCAB, num_layers=2, num_heads=2, hidden_dim=HIDDEN,
                          intermediate_dim=16, dropout=0.0, max_sequence_length=16)
    encoder(INPUTS)
    return encoder


def test_encoder_outputs_and_pooler(encoder):
    outputs = outputs_of(encoder, INPUTS)
    assert outputs["sequence_output"].shape == (3, 6, HIDDEN)
    assert outputs["pooled_output"].shape == (3, HIDDEN)
    kernel, bias = (np.asarray(w) for w in encoder.pooler.weights)
    np.testing.assert_allclose(
        outputs["pooled_output"],
        np.tanh(outputs["sequence_output"][:, 0] @ kernel + bias), atol=1e-5)


def test_embedding_is_bert_not_transformer(encoder):
    """LayerNorm(token + segment + position), with no √H scaling of the token embedding."""
    embedding = encoder.embedding
    segments = np.array([[0, 0, 0, 1, 1, 1]] * 3, "int32")
    got = np.asarray(embedding(TOKENS, segments, training=False))
    token, segment, position = (np.asarray(layer.embeddings) for layer in (
        embedding.token_embedding, embedding.segment_embedding, embedding.position_embedding))
    total = token[TOKENS] + segment[segments] + position[None, :6]
    mean, var = total.mean(-1, keepdims=True), total.var(-1, keepdims=True)
    gamma, beta = (np.asarray(w) for w in embedding.embedding_norm.weights)
    expected = (total - mean) / np.sqrt(var + 1e-12) * gamma + beta
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_feed_forward_uses_exact_erf_gelu(encoder):
    activation = encoder.blocks[0].feed_forward.inner.activation
    exact = 1.0 * 0.5 * (1.0 + math.erf(1.0 / math.sqrt(2.0)))  # 0.841345; tanh form 0.841192
    assert abs(float(activation(np.array([1.0], "float32"))[0]) - exact) < 1e-6


def test_weights_have_hugging_face_layout(encoder):
    shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in encoder.weights}
    expected = {
        "embedding/token_embedding/embeddings": (VOCAB, HIDDEN),  # word_embeddings
        "embedding/position_embedding/embeddings": (16, HIDDEN),
        "embedding/segment_embedding/embeddings": (2, HIDDEN),  # token_type_embeddings
        "embedding/embedding_norm/gamma": (HIDDEN,),
        "block_1/self_attention/query/kernel": (HIDDEN, HIDDEN),
        "block_1/self_attention/key/bias": (HIDDEN,),
        "block_1/self_attention/value/kernel": (HIDDEN, HIDDEN),
        "block_1/self_attention/attention_output/kernel": (HIDDEN, HIDDEN),
        "block_1/attention_norm/beta": (HIDDEN,),
        "block_1/feed_forward/inner/kernel": (HIDDEN, 16),  # intermediate.dense
        "block_1/feed_forward/outer/kernel": (16, HIDDEN),  # output.dense
        "block_1/feed_forward_norm/gamma": (HIDDEN,),
        "pooler/kernel": (HIDDEN, HIDDEN),
    }
    for path, shape in expected.items():
        assert shapes[path] == shape, path
    # 5 embedding tensors + 16 per layer + 2 pooler, nothing else (no output projection).
    assert len(shapes) == 5 + 16 * 2 + 2


def test_segment_ids_default_to_zeros(encoder):
    zeros = dict(INPUTS, segment_ids=np.zeros_like(TOKENS))
    ones = dict(INPUTS, segment_ids=np.ones_like(TOKENS))
    default = outputs_of(encoder, INPUTS)["sequence_output"]
    np.testing.assert_allclose(outputs_of(encoder, zeros)["sequence_output"], default, atol=1e-6)
    assert not np.allclose(outputs_of(encoder, ones)["sequence_output"], default)


def test_extra_padding_changes_nothing(encoder):
    base, more = outputs_of(encoder, INPUTS), outputs_of(encoder, padded(INPUTS, 3))
    real = INPUTS["padding_mask"]
    np.testing.assert_allclose(more["sequence_output"][:, :6][real],
                               base["sequence_output"][real], atol=1e-5)
    np.testing.assert_allclose(more["pooled_output"], base["pooled_output"], atol=1e-5)
    for pooling in ("cls", "mean"):
        classifier = BertClassifier(encoder, num_classes=3, pooling=pooling, dropout=0.0)
        np.testing.assert_allclose(outputs_of(classifier, padded(INPUTS, 3)),
                                   outputs_of(classifier, INPUTS), atol=1e-5)


def test_masked_lm_ties_output_to_word_embeddings(encoder):
    model = BertMaskedLM(encoder)
    logits = outputs_of(model, INPUTS)
    assert logits.shape == (3, 6, VOCAB) and logits.dtype == np.float32
    # The only new weights: transform dense (2), transform LayerNorm (2), output bias (1).
    assert len(model.weights) == len(encoder.weights) + 5
    hidden = np.asarray(model.transform_norm(model.transform_dense(
        encoder(INPUTS)["sequence_output"])))
    table = np.asarray(encoder.embedding.token_embedding.embeddings)
    np.testing.assert_allclose(logits, hidden @ table.T + np.asarray(model.output_bias),
                               atol=1e-4)


def test_classifier_save_load_config_and_fit(tmp_path):
    keras.utils.set_random_seed(2)
    encoder = BertEncoder(VOCAB, 1, 2, HIDDEN, 16, dropout=0.0, max_sequence_length=16)
    model = BertClassifier(encoder, num_classes=3, pooling="mean", dropout=0.0)
    model(INPUTS)
    assert_config_round_trip(model)
    assert_save_load(model, INPUTS, tmp_path)
    assert_fit_decreases(model, INPUTS, LABELS)


def test_masked_lm_save_load_and_fit(tmp_path):
    keras.utils.set_random_seed(3)
    model = BertMaskedLM(BertEncoder(VOCAB, 1, 2, HIDDEN, 16, dropout=0.0,
                                     max_sequence_length=16))
    model(INPUTS)
    assert_config_round_trip(model)
    restored = assert_save_load(model, INPUTS, tmp_path)
    # Still tied after loading: the logits use the restored encoder's embedding table.
    assert restored.encoder.embedding.token_embedding.embeddings.path.startswith(
        restored.encoder.name)
    assert_fit_decreases(model, INPUTS, TOKENS)


def test_masked_lm_trains_everything_but_the_pooler_without_warnings():
    keras.utils.set_random_seed(4)
    encoder = BertEncoder(VOCAB, 1, 2, HIDDEN, 16, dropout=0.0, max_sequence_length=16)
    model = BertMaskedLM(encoder)
    model(INPUTS)
    pooler = {weight.path for weight in encoder.pooler.weights}
    trained = {weight.path for weight in model.trainable_weights}
    assert not pooler & trained
    assert trained | pooler == {weight.path for weight in model.weights}
    assert pooler <= {weight.path for weight in encoder.trainable_weights}  # for fine-tuning
    model.compile(optimizer="adam", loss=MaskedSparseCrossentropy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns of variables without gradients
        model.fit(INPUTS, TOKENS, epochs=1, verbose=0)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_classifier_trains_the_pooler_only_when_it_uses_it(pooling):
    encoder = BertEncoder(VOCAB, 1, 2, HIDDEN, 16, dropout=0.0, max_sequence_length=16)
    model = BertClassifier(encoder, num_classes=3, pooling=pooling, dropout=0.0)
    model(INPUTS)
    trained = {weight.path for weight in model.trainable_weights}
    pooler = {weight.path for weight in encoder.pooler.weights}
    if pooling == "cls":
        assert pooler <= trained
    else:
        assert not pooler & trained
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(INPUTS, LABELS, epochs=1, verbose=0)


def test_bad_arguments_are_explained():
    with pytest.raises(TfbigError, match=r"hidden_dim \(10\) must be divisible by num_heads"):
        BertEncoder(VOCAB, 1, 3, 10, 16)
    with pytest.raises(TfbigError, match="pooling must be one of cls, mean; received 'max'"):
        BertClassifier(BertEncoder(VOCAB, 1, 2, HIDDEN, 16), num_classes=2, pooling="max")
    with pytest.raises(TfbigError, match="inputs must hold 'token_ids'"):
        BertEncoder(VOCAB, 1, 2, HIDDEN, 16)({"ids": TOKENS})
