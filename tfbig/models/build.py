"""``build_model(name, **kwargs)``: one place that turns a model name into a model.

Training, tuning and fine-tuning all build through here, so a name means the same model
everywhere. The BERT tasks take the encoder's arguments and the head's in one flat set:
``build_model("bert", vocabulary_size=..., num_layers=..., num_classes=3)`` builds a
:class:`BertEncoder` and wraps it (``dropout`` goes to both).
"""

import inspect

from tfbig.errors import TfbigError
from tfbig.models.audio_cnn import AudioCNN
from tfbig.models.audio_transformer import AudioTransformer
from tfbig.models.bert_classifier import BertClassifier
from tfbig.models.bert_encoder import BertEncoder
from tfbig.models.bert_masked_lm import BertMaskedLM
from tfbig.models.gpt import GPT
from tfbig.models.image_cnn import ImageCNN
from tfbig.models.rnn_classifier import RNNClassifier
from tfbig.models.rnn_seq2seq import RNNSeq2Seq
from tfbig.models.text_cnn import TextCNN
from tfbig.models.transformer import Transformer
from tfbig.models.vit import ViT

MODEL_CLASSES = {
    "transformer": Transformer,
    "bert": BertClassifier,
    "bert_mlm": BertMaskedLM,
    "gpt": GPT,
    "rnn": RNNClassifier,
    "rnn_seq2seq": RNNSeq2Seq,
    "cnn": TextCNN,
    "image_cnn": ImageCNN,
    "vit": ViT,
    "audio_cnn": AudioCNN,
    "audio_transformer": AudioTransformer,
}
MODEL_NAMES = tuple(MODEL_CLASSES)

# Keyword arguments every keras.Model accepts besides its own.
_MODEL_KWARGS = ("name", "dtype", "trainable")


def _parameters(cls):
    return set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}


def _split_bert_kwargs(kwargs, task_class):
    """Flat kwargs → ``(encoder kwargs, task kwargs)``; keys both know go to both."""
    encoder_keys, task_keys = _parameters(BertEncoder), _parameters(task_class) - {"encoder"}
    unknown = sorted(set(kwargs) - encoder_keys - task_keys - set(_MODEL_KWARGS))
    if unknown:
        raise TfbigError(
            f"unknown argument(s) {', '.join(unknown)} for {task_class.__name__}; valid: "
            f"{', '.join(sorted(encoder_keys | task_keys))}")
    encoder_kwargs = {k: v for k, v in kwargs.items() if k in encoder_keys}
    if "dtype" in kwargs:
        encoder_kwargs["dtype"] = kwargs["dtype"]
    task_kwargs = {k: v for k, v in kwargs.items() if k in task_keys or k in _MODEL_KWARGS}
    return encoder_kwargs, task_kwargs


def build_model(name, **kwargs):
    """Build the model called ``name`` (one of :data:`MODEL_NAMES`) from flat ``kwargs``.

    ``kwargs`` are the model class's constructor arguments; for ``"bert"`` and
    ``"bert_mlm"`` they are :class:`BertEncoder`'s plus the task's (``num_classes``,
    ``pooling``, ``dropout``), or an ``encoder`` to wrap.

    Example:
        >>> model = build_model("gpt", vocabulary_size=40, num_layers=1, num_heads=2,
        ...                     hidden_dim=8, intermediate_dim=16)
        >>> type(model).__name__
        'GPT'
    """
    if name not in MODEL_CLASSES:
        raise TfbigError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    cls = MODEL_CLASSES[name]
    if cls in (BertClassifier, BertMaskedLM) and "encoder" not in kwargs:
        encoder_kwargs, task_kwargs = _split_bert_kwargs(kwargs, cls)
        try:
            encoder = BertEncoder(**encoder_kwargs)
        except TypeError as error:
            raise TfbigError(f"cannot build the BERT encoder for {name!r}: {error}") from None
        return cls(encoder, **task_kwargs)
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise TfbigError(
            f"cannot build {name!r} ({cls.__name__}): {error}; its arguments are "
            f"{', '.join(sorted(_parameters(cls)))}") from None
