"""Where a task's data comes from: the user's file, or the sample shipped with tfbig.

The samples travel inside the package (``tfbig/sample_data/``, package data), so a plain
``pip install .`` or a wheel has them wherever the command runs; the repository's ``data/``
folder is the readable copy of the same files (``tests/data/test_samples.py`` keeps the two
identical, byte for byte).
"""

import os

from tfbig.errors import TfbigError

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "sample_data")


def data_path(path, sample_name):
    """``path`` (the user's ``data.path``), or the shipped sample ``sample_name`` when it is
    empty (a task's ``sample_data``)."""
    if path:
        return path
    sample = os.path.join(SAMPLE_DIR, sample_name)
    if not os.path.exists(sample):
        raise TfbigError(f"no --data given and the shipped sample {sample} is missing (an "
                         f"incomplete install? reinstall tfbig, or pass --data PATH)")
    return sample
