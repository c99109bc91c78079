"""What every tfbig tokenizer shares: vocabulary, special ids, normalisation, batches, saving.

A tokenizer maps a batch of strings to a ragged batch of int32 ids and back:

    strings [batch] ──normalize_text──> normalised [batch] ──_tokenize_normalized──>
    ids [batch, (tokens)]

    ids [batch, T] or [batch, (T)] ──drop special ids──> [batch, (tokens)]
    ──_detokenize_content──> strings [batch]

Subclasses (``CharTokenizer``, ``WordPieceTokenizer``) fill in the two ``_…`` steps with graph
ops only, so ``tokenize`` and ``detokenize`` run eagerly, inside ``tf.data.Dataset.map`` and
inside ``tf.function``. The base class is a ``tf.Module`` so that its lookup tables are
tracked when a tokenizer is attached to a model that is exported as a SavedModel.
"""

import json
import pathlib

import tensorflow as tf

from tfbig import special_tokens
from tfbig.data.text_normalization import check_normalization_form, normalize_text
from tfbig.data.tokenizer_inputs import id_batch, string_batch
from tfbig.errors import TfbigError

VOCAB_FILE = "vocab.txt"  # one token per line, line i holds the token with id i
CONFIG_FILE = "tokenizer.json"  # kind and normalisation options


class Tokenizer(tf.Module):
    """Base class of tfbig tokenizers; use a subclass or ``learn_tokenizer``.

    Args:
        vocabulary: the tokens, id order; must start with ``SPECIAL_TOKENS``.
        normalization: Unicode normal form applied before tokenizing (see ``normalize_text``).
        lower_case: lower-case before tokenizing (accents are kept).
        strip_accents: remove accents before tokenizing.
        name: name of the ``tf.Module``; defaults to ``"<kind>_tokenizer"``.
    """

    kind = None  # "char", "wordpiece": the name saved in tokenizer.json

    def __init__(self, vocabulary, *, normalization="NFKC", lower_case=False,
                 strip_accents=False, name=None):
        super().__init__(name=name or f"{self.kind}_tokenizer")
        vocabulary = list(vocabulary)
        self._check_vocabulary(vocabulary)
        check_normalization_form(normalization)
        self._vocabulary = tuple(vocabulary)
        self.normalization = normalization
        self.lower_case = bool(lower_case)
        self.strip_accents = bool(strip_accents)

    # ----------------------------------------------------------------------------- vocabulary
    @property
    def vocabulary(self):
        """The tokens as a list of ``str``; the index of a token is its id."""
        return list(self._vocabulary)

    @property
    def vocab_size(self):
        """Number of tokens, special tokens included (the size of an embedding table)."""
        return len(self._vocabulary)

    @property
    def options(self):
        """The normalisation options, as saved in ``tokenizer.json``."""
        return {"normalization": self.normalization, "lower_case": self.lower_case,
                "strip_accents": self.strip_accents}

    pad_id = property(lambda self: special_tokens.PAD_ID, doc="Id of ``[PAD]`` (0).")
    unk_id = property(lambda self: special_tokens.UNK_ID, doc="Id of ``[UNK]`` (1).")
    start_id = property(lambda self: special_tokens.START_ID, doc="Id of ``[START]`` (2).")
    end_id = property(lambda self: special_tokens.END_ID, doc="Id of ``[END]`` (3).")
    cls_id = property(lambda self: special_tokens.CLS_ID, doc="Id of ``[CLS]`` (4).")
    sep_id = property(lambda self: special_tokens.SEP_ID, doc="Id of ``[SEP]`` (5).")
    mask_id = property(lambda self: special_tokens.MASK_ID, doc="Id of ``[MASK]`` (6).")

    def _check_vocabulary(self, vocabulary):
        """Raise ``TfbigError`` unless ``vocabulary`` is a valid list of tokens."""
        specials = list(special_tokens.SPECIAL_TOKENS)
        if vocabulary[:len(specials)] != specials:
            raise TfbigError(
                f"a {self.kind} vocabulary must start with the special tokens {specials} in "
                f"this order, got {vocabulary[:len(specials)]}; prepend "
                "tfbig.special_tokens.SPECIAL_TOKENS")
        seen = set()
        for index, token in enumerate(vocabulary):
            if not isinstance(token, str) or not token or "\n" in token:
                raise TfbigError(f"vocabulary token {index} is {token!r}; expected a non-empty "
                                 "str without newlines")
            if token in seen:
                raise TfbigError(f"vocabulary token {index} {token!r} appears twice; every "
                                 "token must be unique")
            seen.add(token)
            if index >= len(specials):
                self._check_token(index, token)

    def _check_token(self, index, token):
        """Kind-specific check of one learned token; raise ``TfbigError`` if it is invalid."""

    # ------------------------------------------------------------------------ text <-> ids
    def tokenize(self, strings):
        """Normalise and split a batch of strings into ids; adds no special tokens.

        Args:
            strings: a list of ``str``, a NumPy array of strings, or a 1-D string tensor.

        Returns:
            An int32 ``tf.RaggedTensor`` of shape ``[batch, (tokens)]``.
        """
        strings = string_batch(strings)
        normalized = normalize_text(strings, form=self.normalization,
                                    lower_case=self.lower_case,
                                    strip_accents=self.strip_accents)
        return self._tokenize_normalized(normalized)

    def detokenize(self, ids):
        """Turn a batch of ids back into text, dropping every special-token id.

        Padding, ``[START]``, ``[END]``, ``[CLS]``, ``[SEP]``, ``[MASK]`` and ``[UNK]`` are
        all dropped (like ``skip_special_tokens=True`` in Hugging Face), as are ids outside
        the vocabulary (e.g. from a model whose output layer was padded to a round size).

        Args:
            ids: integer ids, dense ``[batch, T]`` (tensor, NumPy array or list of equal-length
                lists) or ragged ``[batch, (T)]`` (``tf.RaggedTensor`` or list of lists).

        Returns:
            A string tensor of shape ``[batch]``.
        """
        ids = id_batch(ids)  # [batch, (T)] int32
        keep = (ids >= special_tokens.NUM_SPECIAL_TOKENS) & (ids < self.vocab_size)
        return self._detokenize_content(tf.ragged.boolean_mask(ids, keep))

    def _tokenize_normalized(self, normalized):
        """``[batch]`` normalised strings → int32 ragged ``[batch, (tokens)]``; graph ops only."""
        raise NotImplementedError

    def _detokenize_content(self, ids):
        """int32 ragged ``[batch, (tokens)]`` without special ids → ``[batch]`` strings."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------ saving
    def save(self, directory):
        """Write ``vocab.txt`` and ``tokenizer.json`` into ``directory`` (created if needed).

        Returns:
            The directory as a ``pathlib.Path``. ``load_tokenizer(directory)`` reads it back.
        """
        directory = pathlib.Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / VOCAB_FILE, "w", encoding="utf-8", newline="\n") as file:
            file.write("".join(token + "\n" for token in self._vocabulary))
        config = {"kind": self.kind, "vocab_size": self.vocab_size, **self.options}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n",
                                             encoding="utf-8")
        return directory

    def __repr__(self):
        options = ", ".join(f"{key}={value!r}" for key, value in self.options.items())
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, {options})"
