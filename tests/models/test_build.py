"""``build_model``: every name builds its class; bad names and arguments are explained."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from tfbig.errors import TfbigError  # noqa: E402
from tfbig.models import (  # noqa: E402
    MODEL_NAMES, GPT, AudioCNN, AudioTransformer, BertClassifier, BertEncoder, BertMaskedLM,
    ImageCNN, RNNClassifier, RNNSeq2Seq, TextCNN, Transformer, ViT, build_model)

BERT = dict(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16)
TINY = {
    "transformer": (Transformer, dict(num_layers=1, d_model=8, num_heads=2, dff=16,
                                      input_vocab_size=20, target_vocab_size=20)),
    "bert": (BertClassifier, dict(BERT, num_classes=3, pooling="mean")),
    "bert_mlm": (BertMaskedLM, BERT),
    "gpt": (GPT, dict(BERT)),
    "rnn": (RNNClassifier, dict(vocabulary_size=30, num_classes=2, embedding_dim=8, units=8)),
    "rnn_seq2seq": (RNNSeq2Seq, dict(input_vocab_size=20, target_vocab_size=20,
                                     embedding_dim=8, units=8, cell="gru")),
    "cnn": (TextCNN, dict(vocabulary_size=30, num_classes=2, embedding_dim=8, filters=4)),
    "image_cnn": (ImageCNN, dict(num_classes=2, image_size=8, filters=(4,))),
    "vit": (ViT, dict(num_classes=2, image_size=8, patch_size=4, num_layers=1, num_heads=2,
                      hidden_dim=8, intermediate_dim=16)),
    "audio_cnn": (AudioCNN, dict(num_classes=2, num_mels=8, filters=(4,))),
    "audio_transformer": (AudioTransformer, dict(num_classes=2, num_frames=8, num_mels=8,
                                                 patch_size=4, num_layers=1, num_heads=2,
                                                 hidden_dim=8, intermediate_dim=16)),
}


def test_every_name_is_covered():
    assert sorted(MODEL_NAMES) == sorted(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_build_model_builds_the_class(name):
    cls, kwargs = TINY[name]
    model = build_model(name, **kwargs)
    assert type(model) is cls


def test_bert_kwargs_are_split_between_encoder_and_head():
    model = build_model("bert", **BERT, num_classes=4, dropout=0.2, max_sequence_length=32)
    assert isinstance(model.encoder, BertEncoder)
    assert model.num_classes == 4 and model.dropout == 0.2
    assert model.encoder.dropout == 0.2 and model.encoder.max_sequence_length == 32
    encoder = BertEncoder(**BERT)
    assert build_model("bert_mlm", encoder=encoder).encoder is encoder


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(TfbigError, match="unknown model 'bart'; expected one of transformer, "
                                         "bert, bert_mlm, gpt, rnn, rnn_seq2seq, cnn, "
                                         "image_cnn, vit, audio_cnn, audio_transformer"):
        build_model("bart")


def test_bad_arguments_name_the_model():
    with pytest.raises(TfbigError, match=r"unknown argument\(s\) colour for BertClassifier"):
        build_model("bert", **BERT, num_classes=2, colour="red")
    with pytest.raises(TfbigError, match=r"cannot build 'gpt' \(GPT\): .*hidden_dim"):
        build_model("gpt", vocabulary_size=30)
