"""worst_examples: highest loss first, NaN on top, ties in original order."""

import numpy as np
import pytest

from tfbig.errors import TfbigError
from tfbig.evaluation.error_analysis import worst_examples


def test_highest_losses_first():
    worst = worst_examples([0.1, 2.5, 0.7, 1.0], ["a", "b", "c", "d"], n=2)
    assert worst == [{"index": 1, "loss": 2.5, "example": "b"}, {"index": 3, "loss": 1.0, "example": "d"}]


def test_nan_first_ties_stable_and_n_larger_than_the_data():
    losses = np.array([0.5, np.nan, 0.5, 3.0], dtype=np.float32)
    worst = worst_examples(losses, [("x", 0), ("y", 1), ("z", 2), ("w", 3)], n=10)
    assert [item["index"] for item in worst] == [1, 3, 0, 2]
    assert np.isnan(worst[0]["loss"]) and worst[1]["example"] == ("w", 3)


@pytest.mark.parametrize("call, message", [
    (lambda: worst_examples([], []), r"losses is empty"),
    (lambda: worst_examples([1.0, 2.0], ["a"]), r"2 losses but 1 examples"),
    (lambda: worst_examples([[1.0]], ["a"]), r"losses has shape \(1, 1\); expected one loss per example"),
    (lambda: worst_examples([1.0], ["a"], n=0), r"n=0; expected at least 1"),
])
def test_errors_say_what_was_received(call, message):
    with pytest.raises(TfbigError, match=message):
        call()
