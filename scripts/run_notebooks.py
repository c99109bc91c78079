"""Run the notebooks top to bottom and save them with their outputs (what is committed).

    python scripts/run_notebooks.py                    # every notebook in notebooks/
    python scripts/run_notebooks.py notebooks/03_*.ipynb

Each notebook runs through nbmake (the engine ``tests/test_notebooks.py`` uses in CI) at the
size named by ``TFBIG_NOTEBOOK_SIZE`` (default ``small``, the size CI runs, so a fresh run in
CI can be compared with the committed outputs). A notebook that fails is left untouched and
the script exits 1 naming the cell; one that runs is written in place (atomically), with its
run time printed for ``notebooks/README.md``.
"""

import argparse
import glob
import os
import sys
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT_S = 900


def execute(path):
    """Run one notebook in a fresh kernel (cwd: its folder); → (executed notebook, error)."""
    from nbmake.nb_run import NotebookRun

    os.environ.setdefault("TFBIG_NOTEBOOK_SIZE", "small")
    # The notebooks' quiet_tensorflow() picks the level a newcomer gets (3: no C++ lines)
    os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = NotebookRun(Path(path), CELL_TIMEOUT_S).execute()
    return result.nb, result.error


def save(notebook, path):
    import nbformat

    temporary = f"{path}.tmp"
    nbformat.write(notebook, temporary)
    os.replace(temporary, path)  # a failed write never leaves a half notebook


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(glob.glob(str(NOTEBOOKS / "*.ipynb")))
    failed = 0
    for path in paths:
        started = time.perf_counter()
        notebook, error = execute(path)
        seconds = time.perf_counter() - started
        if error is not None:
            failed += 1
            print(f"{path}: FAILED in cell {error.failing_cell_index} after {seconds:.0f} s: "
                  f"{error.summary}\n{error.trace}", file=sys.stderr)
            continue
        save(notebook, path)
        print(f"{path}: ran in {seconds:.0f} s (TFBIG_NOTEBOOK_SIZE="
              f"{os.environ['TFBIG_NOTEBOOK_SIZE']}), outputs saved")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
