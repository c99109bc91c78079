"""tfbig: build a Transformer from scratch and fine-tune big models with TensorFlow/Keras.

Importing ``tfbig`` is cheap: TensorFlow is imported only by the submodules that need it
(``tfbig.layers``, ``tfbig.models``, ...), so ``python -m tfbig.train --help`` stays fast.
"""

__version__ = "0.1.0"
