"""tfbig models: every one a ``keras.Model`` built from :mod:`tfbig.layers`."""

from tfbig.models.transformer import Transformer

__all__ = ["Transformer"]
