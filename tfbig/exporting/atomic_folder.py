"""Write a whole folder or nothing: build it under a temporary sibling name, then rename.

    check_destination(path, overwrite)     before any slow work: refuse what would be lost
    with atomic_folder(path, overwrite) as temp:
        ... write everything into temp ...  (an error or Ctrl-C removes temp, path untouched)
    # here path holds the complete folder

A rename within one folder is atomic, so a reader of ``path`` sees the old folder (or
none) until the new one is complete: never a half-written export. Replacing a folder takes
two renames (old → trash sibling, new → ``path``); a crash between them leaves the old one
under ``.<name>.old-*`` beside it, not lost.
"""

import contextlib
import os
import shutil
import tempfile

from tfbig.errors import TfbigError

MARKER = "export.json"  # what makes a folder a tfbig export, safe to replace


def check_destination(path, overwrite, *, protect=()):
    """Raise :class:`TfbigError` unless ``path`` can receive a new export.

    ``path`` may be absent or an empty folder; a folder with files in it only with
    ``overwrite``, and only when it is a tfbig export (holds ``export.json``), so that a
    mistyped ``--output`` cannot wipe unrelated files. ``protect`` lists folders (the run)
    that must neither be ``path`` nor lie inside it.
    """
    real = os.path.realpath(path)
    for folder in protect:
        kept = os.path.realpath(folder)
        if kept == real or kept.startswith(real.rstrip(os.sep) + os.sep):
            raise TfbigError(f"--output {path} would replace the run folder {folder}; choose "
                             f"another --output (e.g. {os.path.join(folder, 'export')})")
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path):
        raise TfbigError(f"--output {path} exists and is not a folder; expected a new or "
                         f"empty folder for the SavedModel")
    if not os.listdir(path):
        return
    if not overwrite:
        raise TfbigError(f"--output {path} already exists and is not empty; choose another "
                         f"--output or pass --overwrite to replace the export in it")
    if not os.path.isfile(os.path.join(path, MARKER)):
        raise TfbigError(f"--output {path} holds files but no {MARKER}, so it is not a tfbig "
                         f"export; --overwrite only replaces an earlier export: choose "
                         f"another --output")


@contextlib.contextmanager
def atomic_folder(path, overwrite=False, *, protect=()):
    """Yield a fresh temporary folder beside ``path``; when the block ends without an
    error it becomes ``path`` (replacing an earlier export with ``overwrite``)."""
    check_destination(path, overwrite, protect=protect)
    path = os.path.abspath(path)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    temp = tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent)
    umask = os.umask(0o22)
    os.umask(umask)
    os.chmod(temp, 0o777 & ~umask)  # mkdtemp's 0700 would hide the export from other users
    try:
        yield temp
        check_destination(path, overwrite, protect=protect)  # it may have changed meanwhile
        _move_into_place(temp, path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _move_into_place(temp, path):
    """Rename ``temp`` to ``path``, moving an existing ``path`` aside first."""
    if not os.path.lexists(path):
        os.rename(temp, path)
        return
    if not os.listdir(path):  # an empty folder: nothing to keep
        os.rmdir(path)
        os.rename(temp, path)
        return
    parent, name = os.path.split(path)
    trash = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
    old = os.path.join(trash, name)
    os.rename(path, old)
    try:
        os.rename(temp, path)
    except OSError:
        os.rename(old, path)  # put the old export back
        raise
    shutil.rmtree(trash, ignore_errors=True)
