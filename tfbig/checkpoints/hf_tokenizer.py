"""The tokenizer of a Hugging Face BERT checkpoint, rebuilt from TensorFlow ops.

It gives the ids Hugging Face's ``BertTokenizer``/``BertTokenizerFast`` give, step by step as
the ``tokenizers`` library does them (``BertNormalizer`` → ``BertPreTokenizer`` → WordPiece
→ ``[CLS] … [SEP]``):

1. **Special tokens** written in the text (``"a [SEP] b"``) are cut out first, case
   sensitive, and become their ids; the rest goes through steps 2–5.
2. **Clean**: remove NUL, U+FFFD and control/format characters (``\\x00``, zero-width space,
   ...); every whitespace character (tab, newline, no-break space, ...) becomes a space.
3. **CJK**: put spaces around each CJK ideograph, so each becomes a word of its own (kana and
   hangul are not ideographs and stay joined).
4. **Accents and case** (as ``tokenizer_config.json`` says): NFD and drop nonspacing marks
   (``"Ça"`` → ``"Ca"``), then lower-case one character at a time (``"ΣΑΣ"`` → ``"σασ"``,
   ``"ß"`` stays). ``strip_accents=None`` follows ``lower_case``, as in Hugging Face.
5. **Words**: split on whitespace; every punctuation character (Unicode ``P*`` and all ASCII
   symbols such as ``$ + < = > ^ ` | ~``) is a word of its own. A word longer than 100
   characters is ``[UNK]``; others are split greedily into the longest vocabulary pieces by
   ``tensorflow_text.FastWordpieceTokenizer``; a word it cannot spell (emoji, rare scripts)
   is one ``[UNK]``.

Checked against ``tokenizers`` 0.23 on all-MiniLM-L6-v2's vocabulary, on thousands of random
strings from every Unicode plane: the ids are identical except for a few characters that
were added to Unicode, or changed category, after the older Unicode tables Hugging Face uses
(e.g. U+061D, punctuation for TensorFlow's RE2 but not for ``tokenizers``).

This differs from tfbig's own :mod:`tfbig.data.tokenizers` on purpose: the special-token ids
come from ``vocab.txt`` (``[PAD]`` 0, ``[UNK]`` 100, ``[CLS]`` 101, ``[SEP]`` 102 in BERT),
and the normalisation is BERT's, not NFKC.

Reference: https://github.com/huggingface/tokenizers (``normalizers/bert.rs``,
``pre_tokenizers/bert.rs``); Song et al. 2021, https://arxiv.org/abs/2012.15524.
"""

import functools
import re
import sys

import tensorflow as tf
import tensorflow_text as tf_text

from tfbig.checkpoints.hf_files import (
    CONFIG_FILE, SPECIAL_TOKENS_FILE, TOKENIZER_CONFIG_FILE, VOCAB_FILE, read_json,
    read_vocabulary)
from tfbig.data.tokenizer_inputs import id_batch, string_batch
from tfbig.errors import TfbigError

MAX_CHARS_PER_WORD = 100  # longer words are [UNK] (WordPiece's max_input_chars_per_word)
SUFFIX_INDICATOR = "##"

# Step 2: Unicode "other" characters (Cc except \t\n\r, Cf, Co), NUL and U+FFFD are removed;
# Rust's char::is_whitespace characters that survive that become " ".
_REMOVED = r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{7F}-\x{9F}\p{Cf}\p{Co}\x{FFFD}]"
_WHITESPACE = r"[\t\n\r\p{Zs}\x{2028}\x{2029}]"
# Step 3: the ideograph blocks of tokenizers' is_chinese_char, ranges verbatim.
_CJK = (r"([\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
        r"\x{2B740}-\x{2B81F}\x{2B920}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}])")
# Step 5: ASCII punctuation (! to /, : to @, [ to `, { to ~) and Unicode punctuation.
_PUNCTUATION = r"[!-/:-@\[-\x{60}{-~\p{P}]"
# Decoding: the WordPiece decoder's clean-up removes the space before these tokens.
_NO_SPACE_BEFORE = r" ([.?!,])"

# Plain graph ops with no tensor-dependent Python control flow: autograph has nothing to
# convert, and skipping it saves a second when tracing (tf.data.Dataset.map, tf.function).
_NOT_AUTOGRAPHED = tf.autograph.experimental.do_not_convert

# config key in tokenizer_config.json / special_tokens_map.json → BERT's default.
_SPECIAL_DEFAULTS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
                     "sep_token": "[SEP]", "mask_token": "[MASK]"}


@functools.lru_cache(maxsize=1)
def _lowercase_table():
    """Code points whose lower case is one other code point: ``(keys, values)``, int32."""
    keys, values = [], []
    for code in range(sys.maxunicode + 1):
        lower = chr(code).lower()
        if len(lower) == 1 and lower != chr(code):
            keys.append(code)
            values.append(ord(lower))
    return keys, values


class HFBertTokenizer(tf.Module):
    """Strings → ``{"token_ids", "padding_mask"}`` exactly as a Hugging Face BERT tokenizer.

    Graph ops only: it runs eagerly, in ``tf.data.Dataset.map`` and inside ``tf.function``.
    Build it with :meth:`from_folder` (or :func:`tfbig.checkpoints.load_hf_bert`).

    Args:
        vocabulary: the tokens in id order (the lines of ``vocab.txt``).
        lower_case: lower-case the text (``do_lower_case``; uncased BERT).
        strip_accents: remove accents; ``None`` follows ``lower_case`` (HF's rule).
        tokenize_chinese_chars: make each CJK ideograph a word of its own.
        max_length: most tokens per sequence, ``[CLS]`` and ``[SEP]`` included.
        pad_token, unk_token, cls_token, sep_token, mask_token: the special tokens; each must
            be in ``vocabulary``, which gives its id.

    Call: ``tokenizer(texts, max_length=None)`` with a list (or 1-D tensor) of strings →
    ``{"token_ids": int32 [B, T], "padding_mask": bool [B, T]}``, each row
    ``[CLS] pieces… [SEP]`` padded with ``[PAD]`` to the longest row; rows longer than
    ``max_length`` lose pieces from the end (``[SEP]`` stays last).

    Example:
        >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world",
        ...               "!", "##s"]
        >>> tokenizer = HFBertTokenizer(vocabulary)
        >>> batch = tokenizer(["Hello worlds!", "hello"])
        >>> batch["token_ids"].numpy().tolist()
        [[2, 5, 6, 8, 7, 3], [2, 5, 3, 0, 0, 0]]
        >>> tokenizer.detokenize(batch["token_ids"]).numpy().tolist()
        [b'hello worlds!', b'hello']
    """

    def __init__(self, vocabulary, *, lower_case=True, strip_accents=None,
                 tokenize_chinese_chars=True, max_length=512, pad_token="[PAD]",
                 unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                 name="hf_bert_tokenizer"):
        super().__init__(name=name)
        vocabulary = list(vocabulary)
        ids = {}
        for index, token in enumerate(vocabulary):
            if token in ids:
                raise TfbigError(f"vocabulary token {index} {token!r} repeats token "
                                 f"{ids[token]}; every token must be unique")
            ids[token] = index
        specials = {"pad_token": pad_token, "unk_token": unk_token, "cls_token": cls_token,
                    "sep_token": sep_token, "mask_token": mask_token}
        for key, token in specials.items():
            if token not in ids:
                raise TfbigError(f"{key} {token!r} is not in the vocabulary; expected a "
                                 "BERT vocab.txt that lists it")
        if int(max_length) < 2:
            raise TfbigError(f"max_length must be at least 2 ([CLS] and [SEP]); received "
                             f"{max_length}")
        self._vocabulary = tuple(vocabulary)
        self.lower_case = bool(lower_case)
        self.strip_accents = self.lower_case if strip_accents is None else bool(strip_accents)
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.max_length = int(max_length)
        self.special_tokens = dict(specials)
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            ids[token] for token in specials.values())

        # Longest first, like the Aho-Corasick match of Hugging Face's added tokens.
        self._special_pattern = "|".join(
            re.escape(token) for token in sorted(set(specials.values()), key=len, reverse=True))
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocabulary, suffix_indicator=SUFFIX_INDICATOR,
            max_bytes_per_word=4 * MAX_CHARS_PER_WORD,  # the char limit is applied first
            token_out_type=tf.int32, unknown_token=unk_token, no_pretokenization=True)
        self._tokens = tf.constant(vocabulary)  # id → token, for detokenize
        if self.lower_case:
            keys, values = _lowercase_table()
            self._lowercase = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(keys, tf.int32), tf.constant(values, tf.int32)),
                default_value=-1)

    @classmethod
    def from_folder(cls, folder, max_length=None):
        """The tokenizer of a Hugging Face BERT folder (``vocab.txt`` + optional configs).

        ``max_length`` defaults to the smaller of ``config.json``'s
        ``max_position_embeddings`` and ``tokenizer_config.json``'s ``model_max_length``
        (512 when neither is given).
        """
        options = read_json(f"{folder}/{TOKENIZER_CONFIG_FILE}", required=False)
        special_map = read_json(f"{folder}/{SPECIAL_TOKENS_FILE}", required=False)
        specials = {}
        for key, default in _SPECIAL_DEFAULTS.items():
            token = options.get(key, special_map.get(key, default))
            specials[key] = token["content"] if isinstance(token, dict) else token
        if max_length is None:
            positions = read_json(f"{folder}/{CONFIG_FILE}", required=False).get(
                "max_position_embeddings", 512)
            model_max = options.get("model_max_length")
            sane = isinstance(model_max, int) and 2 <= model_max  # may be 1e30: "no limit"
            max_length = min(positions, model_max) if sane else positions
        return cls(read_vocabulary(folder),
                   lower_case=options.get("do_lower_case", True),
                   strip_accents=options.get("strip_accents"),
                   tokenize_chinese_chars=options.get("tokenize_chinese_chars", True),
                   max_length=max_length, **specials)

    # ---------------------------------------------------------------------------- vocabulary
    @property
    def vocabulary(self):
        """The tokens as a list of ``str``; the index of a token is its id."""
        return list(self._vocabulary)

    @property
    def vocab_size(self):
        return len(self._vocabulary)

    # ---------------------------------------------------------------------------- text → ids
    @_NOT_AUTOGRAPHED
    def __call__(self, texts, max_length=None):
        max_length = self.max_length if max_length is None else int(max_length)
        if max_length < 2:
            raise TfbigError(f"max_length must be at least 2 ([CLS] and [SEP]); received "
                             f"{max_length}")
        pieces = self.tokenize(texts)[:, :max_length - 2]  # [B, (≤ max_length - 2)]
        batch = pieces.nrows()
        cls = tf.fill([batch, 1], self.cls_id)
        sep = tf.fill([batch, 1], self.sep_id)
        ids = tf.concat([cls, pieces, sep], axis=1)  # [B, (T)]
        return {"token_ids": ids.to_tensor(default_value=self.pad_id),  # [B, T]
                "padding_mask": tf.ones_like(ids, tf.bool).to_tensor(default_value=False)}

    @_NOT_AUTOGRAPHED
    def tokenize(self, texts):
        """Word-piece ids of a batch of strings, no ``[CLS]``/``[SEP]``, no truncation.

        Returns an int32 ``tf.RaggedTensor`` ``[batch, (pieces)]``.
        """
        # tf_text.regex_split stops at a NUL byte: make NUL another control character, one
        # that step 2 removes all the same.
        texts = tf.strings.regex_replace(string_batch(texts), r"\x00", "\x01")
        # Step 1: [B] → [B, (parts)], each part plain text or one special token.
        parts = tf_text.regex_split(texts, self._special_pattern, self._special_pattern)
        flat = parts.flat_values  # [P]
        is_special = tf.strings.regex_full_match(flat, self._special_pattern)
        words = tf_text.regex_split(
            self.normalize(tf.where(is_special, "", flat)),
            f"{_WHITESPACE}+|{_PUNCTUATION}", _PUNCTUATION)  # [P, (words)]: steps 2-5
        special_words = tf.RaggedTensor.from_row_lengths(  # [P, (0 or 1)]
            tf.boolean_mask(flat, is_special), tf.cast(is_special, tf.int64))
        words = tf.concat([special_words, words], axis=1)  # one of the two is empty
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
        words = words.with_flat_values(
            tf.where(too_long, self.special_tokens["unk_token"], words.flat_values))
        ids = self._wordpiece.tokenize(words).merge_dims(-2, -1)  # [P, (pieces)]
        return parts.with_flat_values(ids).merge_dims(1, 2)  # [B, (pieces)]

    @_NOT_AUTOGRAPHED
    def normalize(self, texts):
        """Steps 2-4 (clean, CJK, accents, case) on a string tensor of any shape."""
        texts = tf.strings.regex_replace(texts, _REMOVED, "")
        texts = tf.strings.regex_replace(texts, _WHITESPACE, " ")
        if self.tokenize_chinese_chars:
            texts = tf.strings.regex_replace(texts, _CJK, r" \1 ")
        if self.strip_accents:
            texts = tf_text.normalize_utf8(texts, "NFD")
            texts = tf.strings.regex_replace(texts, r"\p{Mn}", "")
        if self.lower_case:
            texts = tf.strings.regex_replace(texts, "\u0130", "i\u0307")  # İ: 2 code points
            codes = tf.strings.unicode_decode(texts, "UTF-8")  # [..., (chars)] int32
            lowered = self._lowercase.lookup(codes.flat_values)
            codes = codes.with_flat_values(tf.where(lowered >= 0, lowered, codes.flat_values))
            texts = tf.strings.unicode_encode(codes, "UTF-8")
        return texts

    # ---------------------------------------------------------------------------- ids → text
    @_NOT_AUTOGRAPHED
    def detokenize(self, ids):
        """Ids ``[batch, T]`` (dense or ragged) → strings ``[batch]``.

        Like Hugging Face's ``decode(ids, skip_special_tokens=True)``: special tokens and
        padding are dropped (so are ids outside the vocabulary), ``##`` pieces are glued to
        the previous piece, other pieces are joined with a space, and there is no space
        before ``. ? ! ,``. Text does not come back exactly: case, accents and the spacing
        around other punctuation are lost (``"Don't"`` → ``"don ' t"``).
        """
        ids = id_batch(ids)
        special = [self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id]
        keep = (ids >= 0) & (ids < self.vocab_size)
        for special_id in special:
            keep &= ids != special_id
        tokens = tf.gather(self._tokens, tf.ragged.boolean_mask(ids, keep))  # [B, (kept)]
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        text = tf.strings.regex_replace(text, " " + re.escape(SUFFIX_INDICATOR), "")
        return tf.strings.regex_replace(text, _NO_SPACE_BEFORE, r"\1")

    def save(self, directory):
        """Write ``vocab.txt`` and ``tokenizer_config.json`` (the Hugging Face files, so
        ``from_folder`` and Hugging Face itself read them back); returns the folder."""
        import json
        import os
        import pathlib

        folder = pathlib.Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        options = {"do_lower_case": self.lower_case, "strip_accents": self.strip_accents,
                   "tokenize_chinese_chars": self.tokenize_chinese_chars,
                   "model_max_length": self.max_length, **self.special_tokens}
        for name, text in ((VOCAB_FILE, "".join(f"{token}\n" for token in self._vocabulary)),
                           (TOKENIZER_CONFIG_FILE, json.dumps(options, indent=2) + "\n")):
            tmp = folder / f"{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, folder / name)
        return folder

    def __repr__(self):
        return (f"HFBertTokenizer(vocab_size={self.vocab_size}, lower_case={self.lower_case}, "
                f"strip_accents={self.strip_accents}, max_length={self.max_length})")
