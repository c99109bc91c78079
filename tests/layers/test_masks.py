"""Shapes and values of every mask function (True = may attend)."""

import numpy as np
from keras import ops

from tfbig.layers import masks

IDS = np.array([[5, 6, 7, 0, 0],
                [8, 9, 0, 0, 0],
                [4, 4, 4, 4, 4]], "int32")


def numpy_of(x):
    return ops.convert_to_numpy(x)


def test_pad_id_is_zero():
    assert masks.PAD_ID == 0


def test_padding_mask():
    mask = numpy_of(masks.padding_mask(IDS))
    assert mask.shape == (3, 5) and mask.dtype == bool
    np.testing.assert_array_equal(mask, IDS != 0)


def test_padding_mask_custom_pad_id():
    np.testing.assert_array_equal(numpy_of(masks.padding_mask(IDS, pad_id=4)), IDS != 4)


def test_key_padding_mask():
    mask = numpy_of(masks.key_padding_mask(IDS))
    assert mask.shape == (3, 1, 5) and mask.dtype == bool
    np.testing.assert_array_equal(mask[:, 0], IDS != 0)


def test_causal_mask_square():
    mask = numpy_of(masks.causal_mask(4))
    assert mask.shape == (4, 4) and mask.dtype == bool
    np.testing.assert_array_equal(mask, np.tril(np.ones((4, 4), bool)))


def test_causal_mask_longer_keys_is_the_cache_case():
    # 2 new queries are the last 2 positions of a 5-long sequence: query 0 is position 3.
    mask = numpy_of(masks.causal_mask(2, 5))
    assert mask.shape == (2, 5)
    np.testing.assert_array_equal(mask, [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    # ...which is the last rows of the full square mask.
    np.testing.assert_array_equal(mask, numpy_of(masks.causal_mask(5))[3:])


def test_causal_mask_single_query_sees_all_keys():
    np.testing.assert_array_equal(numpy_of(masks.causal_mask(1, 6)), np.ones((1, 6), bool))


def test_decoder_self_attention_mask():
    mask = numpy_of(masks.decoder_self_attention_mask(IDS))
    assert mask.shape == (3, 5, 5) and mask.dtype == bool
    expected = np.tril(np.ones((5, 5), bool))[None] & (IDS != 0)[:, None, :]
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(mask[1, 4], [1, 1, 0, 0, 0])  # a padded query row
