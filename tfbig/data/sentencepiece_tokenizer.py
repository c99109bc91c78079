"""SentencePiece tokenizer: subwords learned on raw text, spaces included.

SentencePiece treats text as a plain sequence of characters in which a space is just
another symbol (written ``▁``), so it needs no language-specific word splitting: it suits
CJK text, and it gives back exactly what it was given, spaces and punctuation included.
``detokenize(tokenize(x)) == normalize_text(x)`` whenever ``x`` has no unknown characters
(unlike WordPiece, whose spacing rule is only best effort).

- **Tokenizing and detokenizing** run ``tensorflow_text.SentencepieceTokenizer``: graph ops,
  so they work eagerly, in ``tf.data`` and in ``tf.function``, and need only tensorflow-text.
- **Learning** needs the ``sentencepiece`` package (``pip install sentencepiece``), imported
  only when a model is learned. Two algorithms: ``"unigram"`` (the default; Kudo 2018) and
  ``"bpe"`` (byte-pair encoding; Sennrich et al. 2016).
- **Normalisation** is tfbig's ``normalize_text``, applied before SentencePiece; the model's
  own normaliser is ``identity`` so the two never disagree.
- **Special tokens** keep their tfbig ids: the model's pad/unk/bos/eos pieces are
  ``[PAD]``=0 ``[UNK]``=1 ``[START]``=2 ``[END]``=3, and ``[CLS]`` ``[SEP]`` ``[MASK]`` are
  control symbols 4, 5, 6. Control symbols (unlike SentencePiece's "user-defined symbols")
  are never matched in the input text, so a text containing ``"[MASK]"`` cannot inject a
  special id: ``tokenize`` never returns special ids other than ``[UNK]``.
- **Saving** writes the model proto as ``sentencepiece.model`` beside ``vocab.txt`` (the
  pieces, for reading) and ``tokenizer.json``.

Reference: Kudo & Richardson, "SentencePiece: A simple and language independent subword
tokenizer and detokenizer for Neural Text Processing", 2018, https://arxiv.org/abs/1808.06226;
Kudo, "Subword Regularization", 2018, https://arxiv.org/abs/1804.10959 (unigram).
"""

import hashlib
import io
import pathlib

import tensorflow as tf
import tensorflow_text as tf_text

from tfbig import optional, special_tokens
from tfbig.data.base_tokenizer import VOCAB_FILE, Tokenizer
from tfbig.errors import TfbigError

MODEL_FILE = "sentencepiece.model"  # the serialized SentencePiece ModelProto
MODEL_TYPES = ("unigram", "bpe")  # the learning algorithms on offer
WORD_BOUNDARY = "\u2581"  # "▁": how SentencePiece writes a space inside its pieces

# SentencePiece's trainer silently skips sentences longer than this many bytes (its default
# is 4192); we raise it so a corpus of long lines (paragraphs) is still learned from.
_MAX_SENTENCE_BYTES = 1 << 16


class SentencePieceTokenizer(Tokenizer):
    """Split normalised text into SentencePiece pieces and look each one up.

    Args:
        model: a serialized SentencePiece ``ModelProto`` (``bytes``), as
            ``learn_tokenizer("sentencepiece", ...)`` makes it; its first pieces must be the
            tfbig ``SPECIAL_TOKENS`` in id order. The vocabulary is read from it.
        normalization, lower_case, strip_accents, name: see ``Tokenizer``.

    Example:
        >>> from tfbig.data.tokenizers import learn_tokenizer
        >>> tokenizer = learn_tokenizer("sentencepiece", ["Hello, world!"] * 3, vocab_size=30)
        >>> ids = tokenizer.tokenize(["Hello, world!"])  # int32 RaggedTensor [1, (tokens)]
        >>> tokenizer.detokenize(ids).numpy()[0].decode()
        'Hello, world!'
        >>> same = SentencePieceTokenizer(tokenizer.model)  # e.g. a model read from a file
        >>> same.tokenize(["Hello, world!"]).to_list() == ids.to_list()
        True
    """

    kind = "sentencepiece"

    def __init__(self, model, **options):
        if not isinstance(model, bytes):
            raise TfbigError(f"model must be a serialized SentencePiece model (bytes), got "
                             f"{type(model).__name__}; read it with pathlib.Path(...)"
                             ".read_bytes()")
        try:
            # A name per model: a SavedModel holding two tokenizers (translate's source and
            # target) otherwise loads both ops under one node name, and tensorflow-text
            # then gives both the model of the first.
            sentencepiece = tf_text.SentencepieceTokenizer(
                model=model, out_type=tf.int32, add_bos=False, add_eos=False,
                name=f"sentencepiece_{hashlib.sha256(model).hexdigest()[:16]}")
            pieces = sentencepiece.id_to_string(tf.range(sentencepiece.vocab_size()))
        except tf.errors.OpError as error:
            raise TfbigError(f"model is not a valid SentencePiece model: "
                             f"{error.message}") from None
        super().__init__([piece.decode("utf-8") for piece in pieces.numpy()], **options)
        self._model = model
        self._sentencepiece = sentencepiece

    @property
    def model(self):
        """The serialized SentencePiece model (``bytes``), as saved in ``sentencepiece.model``."""
        return self._model

    def _tokenize_normalized(self, normalized):
        return self._sentencepiece.tokenize(normalized)  # [batch, (tokens)] int32

    def _detokenize_content(self, ids):
        return self._sentencepiece.detokenize(ids)  # [batch]; pieces joined, "▁" -> " "

    def save(self, directory):
        """Write ``vocab.txt``, ``tokenizer.json`` and ``sentencepiece.model`` into
        ``directory`` (created if needed); returns it as a ``pathlib.Path``."""
        directory = super().save(directory)
        (directory / MODEL_FILE).write_bytes(self._model)
        return directory


def load_sentencepiece_tokenizer(directory, vocabulary, **options):
    """Build a ``SentencePieceTokenizer`` from ``directory/sentencepiece.model``.

    Args:
        directory: the folder written by ``SentencePieceTokenizer.save``.
        vocabulary: the tokens read from its ``vocab.txt``; must match the model's pieces.
        **options: the normalisation options read from its ``tokenizer.json``.

    Raises:
        TfbigError: the model file is missing or invalid, or disagrees with ``vocab.txt``.
    """
    path = pathlib.Path(directory) / MODEL_FILE
    if not path.is_file():
        raise TfbigError(f"{MODEL_FILE} is missing; a sentencepiece tokenizer folder holds "
                         "the model written by SentencePieceTokenizer.save()")
    tokenizer = SentencePieceTokenizer(path.read_bytes(), **options)
    if tokenizer.vocabulary != list(vocabulary):
        raise TfbigError(f"{VOCAB_FILE} does not match the pieces of {MODEL_FILE}; save the "
                         "tokenizer again")
    return tokenizer


def learn_sentencepiece_model(normalized_batches, vocab_size, min_count=None,
                              model_type="unigram"):
    """Learn a SentencePiece model whose first pieces are the tfbig special tokens.

    ``vocab_size`` is a soft limit (``hard_vocab_limit=False``): a small corpus cannot fill a
    large vocabulary, and SentencePiece would otherwise fail ("Vocabulary size too high");
    instead it stops at as many pieces as the corpus supports. Every character of the
    corpus gets a piece (``character_coverage=1.0``), so ``vocab_size`` must leave room for
    them; the error says how much.

    Args:
        normalized_batches: an iterable of 1-D string tensors (or arrays) of normalised text.
            SentencePiece holds the (non-empty) texts in memory while it learns.
        vocab_size: the largest vocabulary wanted, special tokens included.
        min_count: not supported (SentencePiece has no such option); must be ``None``.
        model_type: ``"unigram"`` or ``"bpe"``.

    Returns:
        The serialized model (``bytes``), for ``SentencePieceTokenizer(model)``.

    Raises:
        TfbigError: ``sentencepiece`` is not installed, ``min_count`` or ``model_type`` is
            invalid, the texts are empty, or ``vocab_size`` is below the alphabet's size.
    """
    if min_count is not None:
        raise TfbigError(f"min_count is not supported by the sentencepiece tokenizer, got "
                         f"{min_count!r}; leave it None")
    if model_type not in MODEL_TYPES:
        raise TfbigError(f"unknown sentencepiece model_type {model_type!r}; expected one of "
                         f"{', '.join(MODEL_TYPES)}")
    sentencepiece = optional.require("sentencepiece")
    characters = set()
    failures = []  # an error raised while reading the texts, re-raised after training

    def sentences():
        # Errors are stashed rather than raised: they would cross SentencePiece's C++ code.
        try:
            for batch in normalized_batches:
                for text in tf.convert_to_tensor(batch).numpy():
                    text = text.decode("utf-8")
                    if text:  # empty after normalisation: nothing to learn from
                        characters.update(text)
                        yield text
        except Exception as error:  # noqa: BLE001 - re-raised below, unchanged
            failures.append(error)

    model = io.BytesIO()
    pad, unk, start, end, *controls = special_tokens.SPECIAL_TOKENS
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=sentences(), model_writer=model, vocab_size=vocab_size,
            hard_vocab_limit=False, model_type=model_type, character_coverage=1.0,
            normalization_rule_name="identity", max_sentence_length=_MAX_SENTENCE_BYTES,
            pad_id=special_tokens.PAD_ID, pad_piece=pad,
            unk_id=special_tokens.UNK_ID, unk_piece=unk,
            bos_id=special_tokens.START_ID, bos_piece=start,
            eos_id=special_tokens.END_ID, eos_piece=end,
            control_symbols=controls,  # [CLS] [SEP] [MASK] take the next ids: 4, 5, 6
            minloglevel=2)  # errors only
        error = None
    except RuntimeError as raised:
        error = raised
    if failures:
        raise failures[0]
    if not characters:
        raise TfbigError("cannot learn a sentencepiece vocabulary: the texts are empty")
    # One piece per distinct character, the space written as "▁" (always present: the
    # model adds one before each text), plus the special tokens.
    alphabet = len((characters - {" "}) | {WORD_BOUNDARY})
    needed = alphabet + special_tokens.NUM_SPECIAL_TOKENS
    if vocab_size < needed:
        raise TfbigError(f"vocab_size={vocab_size} is too small for a sentencepiece "
                         f"vocabulary of these texts: their {alphabet} distinct characters "
                         f"each need a token, plus {special_tokens.NUM_SPECIAL_TOKENS} "
                         f"special tokens; use vocab_size >= {needed}")
    if error is not None:
        raise TfbigError(f"SentencePiece could not learn a model: {error}") from None
    return model.getvalue()
