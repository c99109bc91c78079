"""A folder of class folders (``class_name/*.suffix``): the layout of the image and audio
tasks, listed the same way for both (``sources.list_images``, ``audio_files.list_audio``).

Standard library only: listing a folder is what the command line does before TensorFlow is
imported.
"""

import os

from tfbig.errors import TfbigError


def list_class_folders(folder, suffixes, *, expected, kind,
                       missing) -> tuple[list[str], list[int], list[str]]:
    """List ``folder/class_name/*`` as ``(paths, labels, class_names)``.

    ``class_names`` are the sub-folder names, sorted, and ``labels[i]`` indexes them. Only
    files directly inside a class folder whose name ends with one of ``suffixes`` (in any
    case) count; hidden entries such as ``.ipynb_checkpoints`` are ignored. At least two
    class folders, each with at least one file, are needed.

    Args:
        folder: the data folder.
        suffixes: lower-case file name endings, e.g. ``(".png", ".jpg", ".jpeg")``.
        expected: the whole layout for messages, e.g. ``"a folder of class_name/*.wav
            files"``.
        kind: what a class folder holds, for messages, e.g. ``".wav files"``.
        missing: what an empty class folder lacks, e.g. ``"no .wav files"``.

    Example:
        paths, labels, class_names = list_class_folders(
            "data/audio", (".wav",), expected="a folder of class_name/*.wav files",
            kind=".wav files", missing="no .wav files")
    """
    display = os.fspath(folder)
    if not os.path.isdir(display):
        what = "is a file, not a folder" if os.path.exists(display) else "no such folder"
        raise TfbigError(f"{display}: {what} (expected {expected})")
    class_names = sorted(entry.name for entry in os.scandir(display)
                         if entry.is_dir() and not entry.name.startswith("."))
    if len(class_names) < 2:
        found = f" ({', '.join(class_names)})" if class_names else ""
        raise TfbigError(f"{display}: found {len(class_names)} class folders{found}; expected "
                         f"at least 2 class_name/ folders of {kind}")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        class_folder = os.path.join(display, name)
        files = sorted(entry.path for entry in os.scandir(class_folder)
                       if entry.is_file() and not entry.name.startswith(".")
                       and entry.name.lower().endswith(tuple(suffixes)))
        if not files:
            raise TfbigError(f"{class_folder}: {missing} (every class folder needs at least "
                             f"one)")
        paths += files
        labels += [label] * len(files)
    return paths, labels, class_names
