"""Subword tokenizer: WordPiece on words that carry their spaces, so text comes back exactly.

WordPiece (``wordpiece_tokenizer``) throws spaces away when it splits text into words, so
detokenizing has to guess where they were, and guesses wrong on ``"l'homme"`` (→
``"l ' homme"``) or ``"T-Shirt"`` (→ ``"T - Shirt"``), which costs BLEU in translation.
This tokenizer keeps the spaces inside the tokens instead, the way SentencePiece does: a word
that follows a space starts with the marker ``▁`` (U+2581). Tokenizing has three steps:

1. **Mark the words.** Every whitespace-separated word, the first one too, gets ``▁``
   in front of it.
2. **Split off punctuation**, as BERT does: every punctuation character (``\\p{P}`` and the
   ASCII symbols ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``) and every CJK ideograph becomes a
   word of its own, and the spaces go. A marker stays glued to the character after it, so
   it is always part of its word's first piece, even when that is punctuation: ``"▁«"``,
   ``"▁("``, ``"▁你"``.
3. **WordPiece**, exactly as in ``WordPieceTokenizer`` (``FastWordpieceTokenizer``, greedy
   longest match, ``##`` on the pieces that continue a word, a word that cannot be spelled
   becomes one ``[UNK]``). The vocabulary is learned by the same learner, on the marked
   words, so it holds pieces such as ``"▁the"`` (a word start) beside ``"the"`` (after
   punctuation) and ``"##the"`` (inside a word), and every single character, ``"▁"``
   included, so every word made of known characters can be spelled.

For example, with a vocabulary that lacks ``"homme"``, ``"Shirt"`` and ``"▁Bonjour"``::

    "L'homme porte un T-Shirt, « Bonjour ! »"
    1. ▁L'homme ▁porte ▁un ▁T-Shirt, ▁« ▁Bonjour ▁! ▁»
    2. ▁L  '  homme  ▁porte  ▁un  ▁T  -  Shirt  ,  ▁«  ▁Bonjour  ▁!  ▁»
    3. ▁L  '  hom ##me  ▁porte  ▁un  ▁T  -  Sh ##irt  ,  ▁«  ▁Bon ##jour  ▁!  ▁»

**Detokenizing** needs no guessing: drop the ``##`` of every piece, join all pieces with
nothing between them (``"▁L'homme▁porte▁un▁T-Shirt,▁«▁Bonjour▁!▁»"``), turn every ``▁``
into a space and remove the one at the very start. So
``detokenize(tokenize(x)) == normalize_text(x)`` for every ``x`` made of characters in the
vocabulary: single spaces, punctuation and CJK text come back as they were. (This is
tensorflow-text's ``FastWordpieceTokenizer.detokenize``, which joins words with spaces, with
those spaces removed again; doing it with one ``tf.gather`` is simpler and also copes with
a model's output that starts with a ``##`` piece.)

Limits, all of them about text the round trip cannot hold:

- A literal ``▁`` in the input is read as a space (``"a▁b"`` tokenizes like ``"a b"``).
- A word with a character missing from the vocabulary is one ``[UNK]``, which
  ``detokenize`` drops with the word's leading space, as every tokenizer drops ``[UNK]``.
- So is a word of more than ``MAX_BYTES_PER_WORD`` bytes of UTF-8 (a long URL, say).

Compared with the ``"sentencepiece"`` kind, which also gives text back exactly: the pieces
are WordPiece's (greedy longest match, never across punctuation), and learning needs only
tensorflow-text, not the ``sentencepiece`` package.

Reference: Kudo & Richardson, "SentencePiece: A simple and language independent subword
tokenizer and detokenizer for Neural Text Processing", 2018, https://arxiv.org/abs/1808.06226
(the ``▁`` marker, also the "Metaspace" pre-tokenizer of Hugging Face ``tokenizers``);
Wu et al., 2016, https://arxiv.org/abs/1609.08144 (WordPiece).
"""

import tensorflow as tf

from tfbig.data.wordpiece_tokenizer import (SUFFIX_INDICATOR, WordPieceTokenizer,
                                            learn_wordpiece_vocabulary)

WORD_START = "\u2581"  # "▁": marks a piece that starts a word, i.e. follows a space

# Longest word (marker included) WordPiece spells; a longer one becomes [UNK]. tensorflow-
# text's default, 100 bytes, is only 32 letters of Thai or Hindi (3 bytes each in UTF-8), and
# Thai puts no spaces between its words.
MAX_BYTES_PER_WORD = 1000

# Punctuation as BERT's basic tokenizer defines it: ASCII symbols and Unicode \p{P}.
_PUNCTUATION = r"[!-/:-@\[-`{-~\p{P}]"
# CJK ideographs (BERT's ranges): written without spaces, so each is a word of its own.
_CJK = (r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
        r"\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}]")
# A word of its own, kept with the marker in front of it, if any: "▁«" "," "▁你".
_OWN_WORD = f"{WORD_START}?(?:{_PUNCTUATION}|{_CJK})"


def split_marked_words(normalized):
    """Mark word starts with ``▁`` and split off punctuation and CJK ideographs (steps 1-2).

    Args:
        normalized: ``[batch]`` normalised strings (a tensor, a list or a NumPy array).

    Returns:
        A ``[batch, (words)]`` string ``tf.RaggedTensor``.

    Example:
        >>> [word.decode() for word in split_marked_words(["« Hi », l'homme"])[0].numpy()]
        ['▁«', '▁Hi', '▁»', ',', '▁l', "'", 'homme']
    """
    text = tf.convert_to_tensor(normalized, dtype=tf.string)
    text = tf.strings.regex_replace(text, WORD_START, " ")  # a literal ▁ is a space
    text = tf.strings.regex_replace(text, r"\S+", WORD_START + r"\0")  # "▁" + each word
    text = tf.strings.regex_replace(text, _OWN_WORD, r" \0 ")  # "▁l'homme" -> "▁l ' homme"
    return tf.strings.split(text)  # at every run of spaces


class SubwordTokenizer(WordPieceTokenizer):
    """WordPiece on ``▁``-marked words: BERT-style subwords with an exact round trip.

    Args:
        vocabulary: ``SPECIAL_TOKENS`` followed by word pieces (word starts begin with ``▁``,
            continuations with ``##``), in id order, as ``learn_tokenizer("subword", ...)``
            makes it.
        normalization, lower_case, strip_accents, name: see ``Tokenizer``.

    Example:
        >>> from tfbig.special_tokens import SPECIAL_TOKENS
        >>> tokenizer = SubwordTokenizer(
        ...     [*SPECIAL_TOKENS, "▁the", "▁man", ",", "▁l", "'", "homme", "##s"])
        >>> tokenizer.tokenize(["the mans, l'homme"]).to_list()
        [[7, 8, 13, 9, 10, 11, 12]]
        >>> tokenizer.detokenize([[2, 7, 8, 13, 9, 10, 11, 12, 3]]).numpy()[0].decode()
        "the mans, l'homme"
    """

    kind = "subword"
    max_bytes_per_word = MAX_BYTES_PER_WORD

    def __init__(self, vocabulary, **options):
        super().__init__(vocabulary, **options)
        # id -> the text the token stands for: "##s" -> "s", "▁the" -> " the".
        self._surfaces = tf.constant(
            [token.removeprefix(SUFFIX_INDICATOR).replace(WORD_START, " ")
             for token in self._vocabulary], dtype=tf.string)

    def _split_words(self, normalized):
        return split_marked_words(normalized)

    def _detokenize_content(self, ids):
        text = tf.strings.reduce_join(tf.gather(self._surfaces, ids), axis=-1)  # [batch]
        return tf.strings.regex_replace(text, "^ ", "")  # the first word's marker


def learn_subword_vocabulary(normalized_batches, vocab_size, min_count=None):
    """Learn a vocabulary as ``learn_wordpiece_vocabulary`` does, on ``▁``-marked words.

    Args and Returns: see ``learn_wordpiece_vocabulary``. The learner gives every character
    a ``##`` form too; ``"##▁"`` is left out, as ``▁`` only ever starts a word.
    """
    vocabulary = learn_wordpiece_vocabulary(normalized_batches, vocab_size, min_count,
                                            split_words=split_marked_words)
    return [token for token in vocabulary if token != SUFFIX_INDICATOR + WORD_START]
