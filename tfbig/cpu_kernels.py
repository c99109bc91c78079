"""Use TensorFlow's oneDNN CPU kernels on x86-64 machines where TensorFlow leaves them off.

TensorFlow's x86-64 wheels ship two sets of CPU kernels for matmul, softmax, transpose and
friends: Eigen's, and oneDNN's (Intel's deep-learning library, ``_Mkl*`` ops). TensorFlow
turns oneDNN on by itself only on CPUs with AVX-512/AMX-class instructions; on others, such
as the 2-core AVX2 AMD EPYC this project benchmarks on, it stays on Eigen. There, oneDNN
measured (``benchmarks/``, ``docs/benchmarks.md``):

* float32 matmul ``[2048, 256] · [256, 9024]``: 128 GFLOP/s against Eigen's 90;
* training the reference Transformer with ``model.fit``: 1.3× the tokens/s (1,554 vs
  1,200 best, 1,385 vs 1,096 median), and 1.55× for the TensorFlow tutorial's model,
  whose ``EinsumDense`` projections become batched matmuls, which Eigen runs slowly;
* XLA-compiled code is unaffected (XLA brings its own kernels).

The switch is the environment variable ``TF_ENABLE_ONEDNN_OPTS``, read once, when
TensorFlow is imported. ``import tfbig`` (and so every ``python -m tfbig.*`` command) sets
it to ``1`` unless it is already set, on x86-64 only, and only if TensorFlow is not yet
imported; set ``TF_ENABLE_ONEDNN_OPTS=0`` to keep TensorFlow's choice. oneDNN sums in a
different order than Eigen, so results differ from Eigen's in the last bits (TensorFlow
logs a line saying so); a seeded run still repeats exactly on the same machine (the test
suite's reproducibility and resume tests run on these kernels). A graph op on int64 that
oneDNN would take, such as a Transpose, makes TensorFlow log an ERROR line, "oneDNN supports
DT_INT64 only on platforms with AVX-512" (seen on an AVX-512 CPU too), and run Eigen's
kernel instead; tfbig's data pipelines avoid the one they had (ragged concatenation,
``tfbig.data.batching``).
"""

import os
import platform
import sys

ENVIRONMENT_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def prefer_onednn():
    """Ask TensorFlow for its oneDNN CPU kernels where that is still possible.

    Returns True if this call set ``TF_ENABLE_ONEDNN_OPTS=1``; False if the variable was
    already set (the user's choice wins), the CPU is not x86-64, or TensorFlow is already
    imported (too late: TensorFlow reads the variable once, at import).
    """
    if ENVIRONMENT_VARIABLE in os.environ or "tensorflow" in sys.modules:
        return False
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    os.environ[ENVIRONMENT_VARIABLE] = "1"
    return True


def onednn_enabled():
    """Whether this process's TensorFlow uses oneDNN kernels (imports TensorFlow)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())
