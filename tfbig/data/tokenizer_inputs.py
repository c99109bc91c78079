"""What every tokenizer accepts as input, checked once: a batch of strings, a batch of ids.

Used by tfbig's own tokenizers (:mod:`tfbig.data.base_tokenizer`) and by the Hugging Face
BERT tokenizer (:mod:`tfbig.checkpoints.hf_tokenizer`); a wrong input raises
:class:`TfbigError` with the same message from either.
"""

import tensorflow as tf

from tfbig.errors import TfbigError


def string_batch(strings):
    """Convert the accepted inputs of ``tokenize`` to a string tensor of shape ``[batch]``.

    Accepted: a list of ``str``, a NumPy array of strings, or a 1-D string tensor.

    Example:
        >>> tuple(string_batch(["a b", "c"]).shape)
        (2,)
    """
    if isinstance(strings, (str, bytes)):
        raise TfbigError("tokenize() takes a batch of strings, got a single string; wrap it "
                         "in a list: tokenize([text])")
    try:
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
    except (TypeError, ValueError) as error:
        raise TfbigError("tokenize() takes a list of str, a NumPy array of strings or a 1-D "
                         f"string tensor, got {type(strings).__name__}: {error}") from None
    if strings.shape.rank is not None and strings.shape.rank != 1:
        raise TfbigError("tokenize() takes a 1-D batch of strings, got shape "
                         f"{strings.shape}; for one string x use tokenize(x[None])")
    return strings


def id_batch(ids):
    """Convert the accepted inputs of ``detokenize`` to an int32 ragged ``[batch, (T)]``.

    Accepted: integer ids, dense ``[batch, T]`` (tensor, NumPy array or list of equal-length
    lists) or ragged ``[batch, (T)]`` (``tf.RaggedTensor`` or list of lists).

    Example:
        >>> id_batch([[5, 6], [7]]).row_lengths().numpy().tolist()
        [2, 1]
    """
    try:
        if isinstance(ids, list):
            ids = tf.ragged.constant(ids, dtype=tf.int64)
        elif not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
    except (TypeError, ValueError) as error:
        raise TfbigError(f"detokenize() takes integer ids, got {type(ids).__name__}: "
                         f"{error}") from None
    if not ids.dtype.is_integer:
        raise TfbigError(f"detokenize() takes integer ids, got dtype {ids.dtype.name}")
    if ids.shape.rank is not None and ids.shape.rank != 2:
        raise TfbigError("detokenize() takes ids of shape [batch, T] or [batch, (T)], got "
                         f"shape {ids.shape}")
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.RaggedTensor.from_tensor(ids)
    return tf.cast(ids, tf.int32)
