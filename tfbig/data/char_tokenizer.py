"""Character tokenizer: one token per Unicode code point.

The simplest tokenizer that works for every language: no out-of-vocabulary words, only
out-of-vocabulary characters (→ ``[UNK]``), and an exact round trip:
``detokenize(tokenize(x)) == normalize_text(x)`` whenever every character of ``x`` is in the
vocabulary. The price is long sequences, so it suits small models and toy tasks.
"""

import collections

import tensorflow as tf

from tfbig import special_tokens
from tfbig.data.base_tokenizer import Tokenizer
from tfbig.errors import TfbigError


class CharTokenizer(Tokenizer):
    """Split normalised text into Unicode characters and look each one up.

    Spaces are ordinary characters (normalisation has already reduced every run of
    whitespace to a single space), so detokenizing just joins the characters.

    Args:
        vocabulary: ``SPECIAL_TOKENS`` followed by single characters, in id order.
        normalization, lower_case, strip_accents, name: see ``Tokenizer``.

    Example:
        >>> from tfbig.special_tokens import SPECIAL_TOKENS
        >>> tokenizer = CharTokenizer([*SPECIAL_TOKENS, "a", "b", " "])
        >>> tokenizer.tokenize(["ab ba"]).to_list()
        [[7, 8, 9, 8, 7]]
        >>> tokenizer.detokenize([[7, 9, 8, 0, 0]]).numpy()[0].decode()
        'a b'
    """

    kind = "char"

    def __init__(self, vocabulary, **options):
        super().__init__(vocabulary, **options)
        tokens = tf.constant(self._vocabulary, dtype=tf.string)
        # id -> token, for detokenize: a plain gather.
        self._tokens = tokens
        # token -> id, for tokenize; anything else maps to [UNK].
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tokens, tf.range(self.vocab_size, dtype=tf.int32)),
            default_value=special_tokens.UNK_ID)

    def _check_token(self, index, token):
        if len(token) != 1:
            raise TfbigError(f"char vocabulary token {index} is {token!r}; every token after "
                             "the special tokens must be exactly one character")

    def _tokenize_normalized(self, normalized):
        characters = tf.strings.unicode_split(normalized, "UTF-8")  # [batch, (chars)] string
        return self._table.lookup(characters)  # [batch, (chars)] int32

    def _detokenize_content(self, ids):
        characters = tf.gather(self._tokens, ids)  # [batch, (tokens)] string
        return tf.strings.reduce_join(characters, axis=-1)  # [batch]


def learn_char_vocabulary(normalized_batches, vocab_size, min_count=None):
    """Keep the most frequent characters of a corpus, up to ``vocab_size`` tokens in all.

    Args:
        normalized_batches: an iterable of 1-D string tensors (or arrays) of normalised text.
        vocab_size: the largest vocabulary wanted, special tokens included.
        min_count: drop characters seen fewer times than this (``None``: keep every one
            that fits).

    Returns:
        ``SPECIAL_TOKENS`` followed by characters, most frequent first (ties: code point
        order, so the result does not depend on the order of the corpus).
    """
    counts = collections.Counter()
    for batch in normalized_batches:
        for text in tf.convert_to_tensor(batch).numpy():
            counts.update(text.decode("utf-8"))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    characters = [char for char, count in ranked if count >= (min_count or 1)]
    room = vocab_size - special_tokens.NUM_SPECIAL_TOKENS
    return [*special_tokens.SPECIAL_TOKENS, *characters[:room]]
