"""Where a task's data comes from: the user's file, or the sample shipped in ``data/``."""

import os

from tfbig.config import SAMPLE_DATA
from tfbig.errors import TfbigError

# The repository's data/ folder, beside the tfbig package (an editable install or a clone).
REPO_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "data")


def data_path(config):
    """``config.data.path``, or the task's shipped sample when it is empty."""
    if config.data.path:
        return config.data.path
    name = SAMPLE_DATA[config.task]
    for folder in ("data", REPO_DATA):
        candidate = os.path.join(folder, name)
        if os.path.exists(candidate):
            return candidate
    raise TfbigError(f"no --data given and the sample data/{name} was not found (run "
                     f"'python -m tfbig.data.samples --output data' to create it)")
