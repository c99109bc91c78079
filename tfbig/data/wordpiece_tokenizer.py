"""WordPiece tokenizer: BERT's subword scheme, built on tensorflow-text.

Tokenizing has two steps:

1. **Pre-tokenisation** into words with BERT's basic tokenizer (the one
   ``tensorflow_text.BertTokenizer`` and the vocabulary learner use): split on whitespace,
   make every punctuation character a word of its own, and every CJK ideograph too.
   ``"Hello, world!"`` → ``["Hello", ",", "world", "!"]``. It is run with its own lower-casing
   and normalisation switched off: ``normalize_text`` has done that already, and
   BERT's ``lower_case`` would strip accents too.
2. **WordPiece**: ``tensorflow_text.FastWordpieceTokenizer`` splits each word greedily into
   the longest pieces in the vocabulary; a piece that continues a word carries the ``##``
   prefix (``"tokenizers"`` → ``["token", "##izer", "##s"]``). A word that cannot be
   spelled with the vocabulary becomes one ``[UNK]``.

Detokenizing merges the pieces back into words, joins the words with spaces, then applies
one spacing rule, best effort: **no space before** ``, . ! ? ; :`` and closing brackets
``) ] }``, and **no space after** opening brackets ``( [ {``. Text whose punctuation follows
that rule (``"Hi, (my) friend!"``) comes back exactly; other text comes back with extra
spaces around punctuation (``"don't"`` → ``"don ' t"``) and CJK characters (``"你好"`` →
``"你 好"``).

Reference: Wu et al., "Google's Neural Machine Translation System", 2016,
https://arxiv.org/abs/1609.08144 (WordPiece); Song et al., "Fast WordPiece Tokenization",
2021, https://arxiv.org/abs/2012.15524.
"""

import collections

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib

from tfbig import special_tokens
from tfbig.data.base_tokenizer import Tokenizer

SUFFIX_INDICATOR = "##"  # prefix of a piece that continues the previous one

# Detokenization spacing rule (see the module docstring): regex -> replacement.
_SPACING_RULES = (
    (r" ([,.!?;:)\]}])", r"\1"),  # "word ," -> "word,"   "x )" -> "x)"
    (r"([(\[{]) ", r"\1"),  # "( x" -> "(x"
)


def bert_pretokenizer():
    """BERT's whitespace + punctuation + CJK splitter, with no case or Unicode changes."""
    return BasicTokenizer(lower_case=False, keep_whitespace=False, normalization_form=None)


class WordPieceTokenizer(Tokenizer):
    """BERT-style pre-tokenisation followed by WordPiece.

    Args:
        vocabulary: ``SPECIAL_TOKENS`` followed by word pieces (continuations start with
            ``##``), in id order, as ``learn_tokenizer("wordpiece", ...)`` makes it.
        normalization, lower_case, strip_accents, name: see ``Tokenizer``.

    Example:
        >>> from tfbig.special_tokens import SPECIAL_TOKENS
        >>> tokenizer = WordPieceTokenizer([*SPECIAL_TOKENS, "hi", "there", "##s", ","])
        >>> tokenizer.tokenize(["hi, theres"]).to_list()
        [[7, 10, 8, 9]]
        >>> tokenizer.detokenize([[2, 7, 10, 8, 9, 3]]).numpy()[0].decode()
        'hi, theres'
    """

    kind = "wordpiece"
    max_bytes_per_word = 100  # a longer word becomes [UNK] (tensorflow-text's default)

    def __init__(self, vocabulary, **options):
        super().__init__(vocabulary, **options)
        self._pretokenizer = bert_pretokenizer()
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=list(self._vocabulary),
            suffix_indicator=SUFFIX_INDICATOR,
            token_out_type=tf.int32,
            unknown_token=special_tokens.UNK,
            max_bytes_per_word=self.max_bytes_per_word,
            no_pretokenization=True,  # the words come from self._split_words
            support_detokenization=True)

    def _split_words(self, normalized):
        """Pre-tokenisation: ``[batch]`` normalised strings → ``[batch, (words)]`` strings."""
        return self._pretokenizer.tokenize(normalized)

    def _tokenize_normalized(self, normalized):
        words = self._split_words(normalized)  # [batch, (words)] string
        pieces = self._wordpiece.tokenize(words)  # [batch, (words), (pieces)] int32
        return pieces.merge_dims(-2, -1)  # [batch, (tokens)]

    def _detokenize_content(self, ids):
        text = self._wordpiece.detokenize(ids)  # [batch]: words joined by single spaces
        for pattern, replacement in _SPACING_RULES:
            text = tf.strings.regex_replace(text, pattern, replacement)
        return text


def learn_wordpiece_vocabulary(normalized_batches, vocab_size, min_count=None, *,
                               split_words=None):
    """Learn a WordPiece vocabulary with tensorflow-text's BERT vocabulary learner.

    This is what ``tensorflow_text.tools.wordpiece_vocab.bert_vocab_from_dataset`` does
    (count the pre-tokenised words, then ``learn``), with two settings changed:

    - ``lower_thresh``: the learner binary-searches a minimum count for its pieces, and its
      default lower bound of 10 means no piece seen fewer than 10 times can ever enter the
      vocabulary. On a small corpus that leaves a vocabulary of little more than single
      characters. We start the search at ``min_count`` (default 1), so rare words still
      become tokens when ``vocab_size`` has room for them.
    - the result is cut to ``vocab_size`` if the search could not get under it, dropping the
      rarest multi-character pieces first: every single character and its ``##`` form stay,
      so every word made of known characters can still be spelled.

    Args:
        normalized_batches: an iterable of 1-D string tensors (or arrays) of normalised text.
        vocab_size: the largest vocabulary wanted, special tokens included.
        min_count: lowest piece count the learner may accept (``None``: 1).
        split_words: the pre-tokenizer whose words are counted, ``[batch]`` strings →
            ``[batch, (words)]`` strings (``None``: BERT's, as ``WordPieceTokenizer`` splits;
            ``SubwordTokenizer`` passes its own).

    Returns:
        ``SPECIAL_TOKENS`` followed by word pieces.
    """
    split_words = split_words or bert_pretokenizer().tokenize
    word_counts = collections.Counter()
    for batch in normalized_batches:
        word_counts.update(split_words(batch).flat_values.numpy())
    word_counts = {word.decode("utf-8"): count for word, count in word_counts.items()}
    if not word_counts:
        return list(special_tokens.SPECIAL_TOKENS)
    vocabulary = wordpiece_tokenizer_learner_lib.learn(
        word_counts, vocab_size, list(special_tokens.SPECIAL_TOKENS),
        lower_thresh=min_count or 1, joiner=SUFFIX_INDICATOR)
    return _cut_to_size(vocabulary, vocab_size)


def _cut_to_size(vocabulary, vocab_size):
    """Drop the last (rarest) multi-character pieces until ``vocab_size`` tokens remain."""
    excess = len(vocabulary) - vocab_size
    if excess <= 0:
        return vocabulary
    num_special = special_tokens.NUM_SPECIAL_TOKENS
    droppable = [index for index, token in enumerate(vocabulary)
                 if index >= num_special and len(token.removeprefix(SUFFIX_INDICATOR)) > 1]
    dropped = set(droppable[-excess:])
    kept = [token for index, token in enumerate(vocabulary) if index not in dropped]
    return kept[:vocab_size]  # only cuts characters when the alphabet alone is too big
