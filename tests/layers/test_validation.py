"""The one head/width check every attention layer and model runs (``check_num_heads``)."""

import pytest

from tfbig.errors import TfbigError
from tfbig.layers.validation import check_num_heads


@pytest.mark.parametrize("width,num_heads", [(8, 1), (8, 2), (768, 12)])
def test_heads_that_divide_the_width_pass(width, num_heads):
    check_num_heads(width, num_heads)


@pytest.mark.parametrize("args,message", [
    ((10, 3), r"^d_model \(10\) must be divisible by num_heads \(3\): each head gets "
              r"d_model / num_heads features$"),
    ((10, 4, "hidden_dim"), r"^hidden_dim \(10\) must be divisible by num_heads \(4\)"),
    ((8, 0), r"^num_heads must be a positive integer, received 0$"),
    ((8, 2.0), r"^num_heads must be a positive integer, received 2\.0$"),
    ((8, True), r"^num_heads must be a positive integer, received True$"),
    ((-8, 2, "hidden_dim"), r"^hidden_dim must be a positive integer, received -8$"),
], ids=["indivisible", "named width", "zero heads", "float heads", "bool heads",
        "negative width"])
def test_message_names_the_argument_its_value_and_what_was_expected(args, message):
    with pytest.raises(TfbigError, match=message):
        check_num_heads(*args)
