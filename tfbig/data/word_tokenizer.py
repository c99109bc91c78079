"""Whitespace (word) tokenizer: one token per whitespace-separated word.

The simplest word-level tokenizer, for tiny tasks whose inputs are already a small set of
words (``"add 12 7"``, commands, tags): normalised text is split on spaces and each word is
looked up whole, so ``"cat,"`` and ``"cat"`` are different tokens and a word missing from
the vocabulary becomes ``[UNK]``. Detokenizing joins the words with single spaces, so
``detokenize(tokenize(x)) == normalize_text(x)`` whenever every word of ``x`` is in the
vocabulary (normalisation has already reduced every run of whitespace to one space).
For open-vocabulary text use ``"wordpiece"``, ``"subword"`` or ``"sentencepiece"``.
"""

import collections

import tensorflow as tf

from tfbig import special_tokens
from tfbig.data.base_tokenizer import Tokenizer
from tfbig.errors import TfbigError


class WordTokenizer(Tokenizer):
    """Split normalised text on whitespace and look each word up.

    Args:
        vocabulary: ``SPECIAL_TOKENS`` followed by words without whitespace, in id order.
        normalization, lower_case, strip_accents, name: see ``Tokenizer``.

    Example:
        >>> from tfbig.special_tokens import SPECIAL_TOKENS
        >>> tokenizer = WordTokenizer([*SPECIAL_TOKENS, "add", "1", "2"])
        >>> tokenizer.tokenize(["add  2 1", "add 3"]).to_list()
        [[7, 9, 8], [7, 1]]
        >>> tokenizer.detokenize([[7, 8, 9, 0]]).numpy()[0].decode()
        'add 1 2'
    """

    kind = "word"

    def __init__(self, vocabulary, **options):
        super().__init__(vocabulary, **options)
        tokens = tf.constant(self._vocabulary, dtype=tf.string)
        self._tokens = tokens  # id -> word, for detokenize
        self._table = tf.lookup.StaticHashTable(  # word -> id, else [UNK]
            tf.lookup.KeyValueTensorInitializer(
                tokens, tf.range(self.vocab_size, dtype=tf.int32)),
            default_value=special_tokens.UNK_ID)

    def _check_token(self, index, token):
        if token != token.strip() or len(token.split()) != 1:
            raise TfbigError(f"word vocabulary token {index} is {token!r}; every token after "
                             "the special tokens must be one word without whitespace")

    def _tokenize_normalized(self, normalized):
        words = tf.strings.split(normalized)  # [batch, (words)] string
        ids = self._table.lookup(words)  # [batch, (words)] int32
        # "[MASK]" typed in the text is a word like any other, not the special token.
        return tf.where(ids < special_tokens.NUM_SPECIAL_TOKENS, special_tokens.UNK_ID, ids)

    def _detokenize_content(self, ids):
        words = tf.gather(self._tokens, ids)  # [batch, (words)] string
        return tf.strings.reduce_join(words, axis=-1, separator=" ")  # [batch]


def learn_word_vocabulary(normalized_batches, vocab_size, min_count=None):
    """Keep the most frequent words of a corpus, up to ``vocab_size`` tokens in all.

    Args:
        normalized_batches: an iterable of 1-D string tensors (or arrays) of normalised text.
        vocab_size: the largest vocabulary wanted, special tokens included.
        min_count: drop words seen fewer times than this (``None``: keep every one that fits).

    Returns:
        ``SPECIAL_TOKENS`` followed by words, most frequent first (ties: string order, so the
        result does not depend on the order of the corpus). A word spelled like a special
        token is left out: it would collide with it.
    """
    counts = collections.Counter()
    for batch in normalized_batches:
        for text in tf.convert_to_tensor(batch).numpy():
            counts.update(text.decode("utf-8").split())
    for token in special_tokens.SPECIAL_TOKENS:
        counts.pop(token, None)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    words = [word for word, count in ranked if count >= (min_count or 1)]
    room = vocab_size - special_tokens.NUM_SPECIAL_TOKENS
    return [*special_tokens.SPECIAL_TOKENS, *words[:room]]
