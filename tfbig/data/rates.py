"""Checks of rates and strengths (probabilities, fractions) that configs hold; plain Python,
so a config is checked before TensorFlow loads."""

from tfbig.errors import TfbigError


def check_rate(name, rate, *, allow_one=False):
    """Raise ``TfbigError`` unless ``0 <= rate < 1`` (``<= 1`` with ``allow_one``)."""
    top_ok = rate <= 1 if allow_one else rate < 1
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (0 <= rate and top_ok):
        bound = "1]" if allow_one else "1)"
        raise TfbigError(f"{name}={rate!r}: expected a number in [0, {bound}")
