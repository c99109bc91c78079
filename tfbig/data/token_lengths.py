"""How many tokens texts make under a tokenizer: the data-dependent sequence lengths
(``data.max_source_length`` = 0 and friends) and the token-budget batch counts."""

import numpy as np
import tensorflow as tf


def longest_tokenized(texts, tokenizer, batch_size=1024):
    """The largest token count of ``texts`` under ``tokenizer`` (streams in batches)."""
    lengths = tokenized_lengths(texts, tokenizer, batch_size)
    return int(lengths.max()) if len(lengths) else 0


def tokenized_lengths(texts, tokenizer, batch_size=1024):
    """The token count of each of ``texts`` under ``tokenizer``, as a NumPy int array."""
    texts = list(texts)
    if not texts:
        return np.zeros([0], np.int64)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
    return np.concatenate([tokenizer.tokenize(batch).row_lengths().numpy()
                           for batch in dataset])
