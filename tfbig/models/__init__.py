"""tfbig models: every one a ``keras.Model`` built from :mod:`tfbig.layers`.

``build_model(name, **kwargs)`` builds any of them by name (:data:`MODEL_NAMES`).
"""

from tfbig.models.audio_cnn import AudioCNN
from tfbig.models.audio_transformer import AudioTransformer
from tfbig.models.bert_classifier import BertClassifier
from tfbig.models.bert_encoder import BertEncoder
from tfbig.models.bert_masked_lm import BertMaskedLM
from tfbig.models.build import MODEL_NAMES, build_model
from tfbig.models.gpt import GPT
from tfbig.models.image_cnn import ImageCNN
from tfbig.models.rnn_classifier import RNNClassifier
from tfbig.models.rnn_seq2seq import RNNSeq2Seq
from tfbig.models.text_cnn import TextCNN
from tfbig.models.transformer import Transformer
from tfbig.models.vit import ViT

__all__ = [
    "Transformer",
    "BertEncoder",
    "BertMaskedLM",
    "BertClassifier",
    "GPT",
    "RNNSeq2Seq",
    "RNNClassifier",
    "TextCNN",
    "ImageCNN",
    "ViT",
    "AudioCNN",
    "AudioTransformer",
    "build_model",
    "MODEL_NAMES",
]
