"""tfbig: build a Transformer from scratch and fine-tune big models with TensorFlow/Keras.

Importing ``tfbig`` is cheap: TensorFlow is imported only by the submodules that need it
(``tfbig.layers``, ``tfbig.models``, ...), so ``python -m tfbig.train --help`` stays fast.

It does one thing before TensorFlow loads: on x86-64 CPUs it asks TensorFlow for its oneDNN
kernels, which TensorFlow leaves off on CPUs without AVX-512 (``tfbig.cpu_kernels``: about
1.3× faster training there; ``TF_ENABLE_ONEDNN_OPTS=0`` opts out). Import ``tfbig``
before ``tensorflow`` to get it.
"""

from tfbig.cpu_kernels import prefer_onednn

prefer_onednn()

__version__ = "0.1.0"
