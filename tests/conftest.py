"""Shared test setup: quiet TensorFlow, import tfbig first, make ``tests/helpers.py``
importable.

pytest runs with ``--import-mode=importlib`` and there are no ``__init__.py`` files, so
``tests/`` is put on ``sys.path`` here for ``from helpers import run_layer_test``.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported
# tfbig before TensorFlow, as users get it: the suite runs on the CPU kernels tfbig picks
# (tfbig.cpu_kernels), whichever test module happens to import TensorFlow first.
import tfbig  # noqa: E402,F401

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


def pytest_collection_modifyitems(items):
    """The notebooks' reruns (a minute or more each) first: with ``-n 2`` pytest-xdist then
    deals them to both workers at the start, and the many short tests after them even out
    the end, instead of one worker finishing a notebook alone. Only whole tests move (their
    fixture is per test), so every module's own fixtures are still set up once."""
    items.sort(key=lambda item: item.originalname != "test_notebook_reruns_with_the_committed_outputs")
