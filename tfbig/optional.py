"""The few packages tfbig can do without, and the one way to import them.

Everything the default path of any command needs (train, predict, evaluate, export and tune
for every task on the shipped samples; ``finetune --from-hf``) is in ``install_requires``.
The packages below serve paths a user opts into; they are imported only through
:func:`require`, so a missing one is one line naming the ``pip install`` to run, and
:func:`check` lets a command ask for all it will need *before* any work starts (never after
an hour of training). ``tests/test_dependencies.py`` reads every ``import`` in ``tfbig/``
and fails on a third-party module that is neither required nor listed here.

Example:
    spm = require("sentencepiece")      # the module, or TfbigError: "... pip install ..."
    check(["sklearn", "scipy"])         # before a Bayesian search starts
"""

import dataclasses
import importlib

from tfbig.errors import TfbigError


@dataclasses.dataclass(frozen=True)
class OptionalPackage:
    purpose: str   # what needs it, as the user asked for it
    install: str   # the command that brings it


OPTIONAL = {
    "sentencepiece": OptionalPackage(
        "learning a SentencePiece tokenizer (data.tokenizer=sentencepiece; loading a saved "
        "one needs only tensorflow-text)", "pip install 'tfbig[sentencepiece]'"),
    "sklearn": OptionalPackage("--tuner bayesian", "pip install 'tfbig[bayesian]'"),
    "scipy": OptionalPackage("--tuner bayesian", "pip install 'tfbig[bayesian]'"),
    "tensorflow_datasets": OptionalPackage("loading a TensorFlow Datasets data set",
                                           "pip install 'tfbig[tfds]'"),
    # Keras' JAX backend: whoever sets KERAS_BACKEND=jax has installed it.
    "jax": OptionalPackage("Keras' JAX backend (KERAS_BACKEND=jax)", "pip install jax"),
}


def require(module):
    """Import and return the optional ``module``; a missing one raises :class:`TfbigError`
    saying what needs it and how to install it."""
    package = OPTIONAL[module]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise TfbigError(f"{package.purpose} needs the {module} package, which is not "
                         f"installed; run: {package.install}") from None


def check(modules):
    """Raise for the first of ``modules`` that is not installed (a command calls this before
    it starts any work)."""
    for module in modules:
        require(module)
