"""Optional access to TensorFlow Datasets (``pip install 'tfbig[tfds]'``).

tfbig does not depend on TFDS; ``load_tfds`` imports it only when called and turns every
way of failing (not installed, not downloaded, offline, unknown name or split) into one
``TfbigError`` line. It never downloads unless asked to.

Example:
    dataset = load_tfds("imdb_reviews", "train")   # (text, label) tf.data.Dataset
    examples = [(t.decode(), str(l)) for t, l in dataset.as_numpy_iterator()]
"""

from tfbig import optional
from tfbig.errors import TfbigError


def load_tfds(name, split, *, data_dir=None, download=False, as_supervised=True):
    """``tensorflow_datasets.load(name, split=split, ...)`` with one-line errors.

    Args:
        name: a TFDS dataset name, e.g. ``"imdb_reviews"`` or ``"mnist:3.0.1"``.
        split: e.g. ``"train"``, ``"test[:10%]"``.
        data_dir: where prepared datasets live (TFDS' default: ``~/tensorflow_datasets``).
        download: fetch and prepare the data if it is not there yet (needs the internet).
        as_supervised: ``(input, label)`` tuples rather than feature dicts.

    Returns:
        The ``tf.data.Dataset``.

    Raises:
        TfbigError: TFDS is not installed, or the dataset cannot be loaded.
    """
    tfds = optional.require("tensorflow_datasets")
    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=download,
                         as_supervised=as_supervised)
    except Exception as error:  # TFDS raises many types: not found, network, bad split, ...
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        hint = ("; with download=True it needs internet access (offline?)" if download else
                "; if it is not prepared here, pass download=True (needs internet access) or "
                "data_dir= where it was prepared")
        raise TfbigError(f"cannot load TFDS dataset {name!r} split {split!r}: "
                         f"{detail}{hint}") from None
