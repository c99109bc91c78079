"""A quiet start for the commands: TensorFlow's C++ start-up lines are held back;
``--verbose`` shows them all.

What hides which line, measured with TensorFlow 2.21 on a machine without a GPU:

- absl's banner "All log messages before absl::InitializeLog() ...", and the ``I0000``
  lines TensorFlow's libraries log while they load ("oneDNN custom operations are on",
  "Could not find cuda drivers"): printed before TensorFlow applies
  ``TF_CPP_MIN_LOG_LEVEL``, so no level hides them; :class:`_QuietTensorFlowImport` holds
  them back during ``import tensorflow`` and writes back those that pass the level.
- ``E0000 ... failed call to cuInit: ... UNKNOWN ERROR (303)`` (XLA's CUDA probe): level 3.
- ``E0000 ... oneDNN supports DT_INT64 only on platforms with AVX-512``: removed at its
  source (``tfbig.data.batching``).
"""

import importlib.util
import os
import re
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# 3 = FATAL only. Not 2: on a machine without a GPU the start-up lines that remain at 2
# are ERROR lines (E0000 "failed call to cuInit: ... UNKNOWN ERROR (303)", XLA's CUDA probe)
# about nothing the user has to act on; the "devices:" start line says which devices train.
QUIET_LOG_LEVEL = "3"

# Lines in absl's format, "I0000 00:00:1796590658.742647    3769 port.cc:153] ...", and
# the banner absl prints before them.
_ABSL_LINE = re.compile(r"[IWEF]\d{4} [\d:.]+ +\d+ [^\]\s]+:\d+\] ")
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called"

def log_level():
    """TensorFlow's C++ log level now: 0 (all) … 3 (FATAL only); 0 if unset or invalid."""
    try:
        return min(max(int(os.environ.get(LOG_LEVEL_VARIABLE, "0")), 0), 3)
    except ValueError:
        return 0


def keep_start_line(line, level):
    """Whether a line TensorFlow printed while it was imported passes ``level``."""
    if line.startswith(_ABSL_BANNER):
        return level < 1
    if _ABSL_LINE.match(line):
        return "IWEF".index(line[0]) >= level
    return True


class _QuietTensorFlowImport:
    """A ``sys.meta_path`` finder that imports ``tensorflow`` (once) with fd 2 captured, then
    writes back the lines that pass ``TF_CPP_MIN_LOG_LEVEL``.

    Why: TensorFlow 2.21 logs through absl, and the lines its libraries log while they load
    ("oneDNN custom operations are on", "Could not find cuda drivers", each twice, after
    absl's "All log messages before absl::InitializeLog()" banner) come before it applies
    TF_CPP_MIN_LOG_LEVEL: no environment variable hides them.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once, and the real finders find the real spec
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader,
                                                                    "exec_module"):
            load = spec.loader.exec_module

            def exec_module(module):
                with _filtered_stderr(lambda line: keep_start_line(line, log_level())):
                    load(module)
            spec.loader.exec_module = exec_module  # this module's loader only
        return spec


class _filtered_stderr:
    """Send file descriptor 2 to a temporary file; on exit, write back the lines ``keep``
    accepts (everything if that fails). C++ code writes to the descriptor, not sys.stderr."""

    def __init__(self, keep):
        self.keep = keep
        self.saved = None

    def __enter__(self):
        try:
            sys.stderr.flush()
            self.capture = tempfile.TemporaryFile()
            self.saved = os.dup(2)
            os.dup2(self.capture.fileno(), 2)
        except (OSError, ValueError, AttributeError):  # no usable fd 2: leave it alone
            self.saved = None
        return self

    def __exit__(self, *exc_info):
        if self.saved is None:
            return
        try:
            sys.stderr.flush()  # Python's writes during the import went to the file too
        except (OSError, ValueError):
            pass
        os.dup2(self.saved, 2)
        os.close(self.saved)
        with self.capture:
            self.capture.seek(0)
            lines = self.capture.read().decode("utf-8", "replace").splitlines(keepends=True)
        kept = "".join(line for line in lines if exc_info[0] is not None or self.keep(line))
        if kept:
            os.write(2, kept.encode("utf-8"))


def quiet_tensorflow(verbose=False):
    """A quiet start for a command, before TensorFlow is imported (``verbose``: no change).

    - ``TF_CPP_MIN_LOG_LEVEL=3`` unless the user set the variable (their level wins);
    - the lines TensorFlow's libraries print while loading, before that level applies, are
      held back unless they pass it (:class:`_QuietTensorFlowImport`).

    Python warnings are not filtered here: the one Keras warning a user can do nothing
    about ("Your input ran out of data") is ignored where it arises, around ``model.fit`` in
    :mod:`tfbig.runs.fit`, and the ones tfbig caused are fixed at their source.
    """
    if verbose:
        return
    os.environ.setdefault(LOG_LEVEL_VARIABLE, QUIET_LOG_LEVEL)
    if (log_level() > 0 and "tensorflow" not in sys.modules
            and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path)):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
