"""The notebooks: committed with the outputs of a real run, and still true when rerun.

Each notebook runs top to bottom through nbmake at ``TFBIG_NOTEBOOK_SIZE=small`` (the size
``scripts/run_notebooks.py`` commits them at), and the fresh outputs are compared with the
committed ones cell by cell. Numbers are masked (metrics and timings differ by a few
threads' rounding), but shapes, names and the kind of every output are not: a renamed
metric, a changed shape or a plot that disappeared fails the test, so a committed notebook
cannot show an older API than the library's.
"""

import ast
import difflib
import glob
import os
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(Path(p) for p in glob.glob(str(REPO / "notebooks" / "*.ipynb")))
# Classes a notebook may define: 01 shows the article's own (broken) Transformer to make it
# fail; 08's three sketches are the issue's models "in the notebook's own few lines". Every
# other notebook uses the library's layers, models and training.
MAY_DEFINE = {"01_attention_and_positional_encoding.ipynb": {"Transformer"},
              "08_applications.ipynb": None}  # None: any
KERAS_BASES = {"Layer", "Model", "Callback", "Sequential"}

# TensorFlow's C++ lines ("I0000 00:00:17… port.cc:153] …") and absl's banner: whether they
# reach a cell depends on how the kernel's stderr is wired, not on the notebook.
ABSL_LINE = re.compile(r"[IWEF]\d{4} [\d:.]+ +\d+ [^\]\s]+:\d+\] |WARNING: All log messages before absl")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TEMPORARY_PATH = re.compile(r"(/tmp|/var/folders)/\S+")
SHAPE = re.compile(r"\((?:\d+|None)(?:, (?:\d+|None))+\)|\((?:\d+|None),\)|TensorShape\(\[[^\]]*\]\)")
# Durations as tfbig prints them ("4.9 s", "2 min 10 s", "1 h 05 min"): the unit changes
# with the machine's speed. And tfbig's "time: epoch 1 took …" estimate, whose wording
# depends on how long tracing took: timing, not the notebook's content.
DURATION = re.compile(r"\d+ h \d+ min|\d+ min(?: \d+ s)?|\d+(?:\.\d+)? s\b")
TIMING_LINE = re.compile(r"^time: ")
NUMBER = re.compile(r"[-+]?(?:\d[\d,_]*)?\.?\d+(?:e[-+]?\d+)?(?:us|ms|s|%)?")


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def screen_lines(text):
    """What a terminal would show: a ``\\r`` restarts its line (Keras' progress bar)."""
    lines = []
    for line in ANSI.sub("", text).split("\n"):
        line = line.split("\r")[-1] if line.rstrip("\r") else ""
        while "\b" in line:
            line = re.sub(r"[^\b]\b", "", line, count=1).lstrip("\b")
        lines.append(line.rstrip())
    return lines


def skeleton_line(line):
    """A line with its numbers masked and its shapes kept (``(2, 16, 64)`` stays)."""
    line = TEMPORARY_PATH.sub("<tmp>", line)
    line = DURATION.sub("<duration>", line)
    shapes = SHAPE.findall(line)
    line = SHAPE.sub("\0", line)
    line = NUMBER.sub("#", line)
    for shape in shapes:
        line = line.replace("\0", shape, 1)
    return re.sub(r"━+", "━", line)  # a bar's length follows the console width


def skeleton(cell):
    """One code cell's outputs, comparable across runs: each stream's lines with numbers
    masked, and the kinds of its displays in order. The two streams are kept apart because
    the kernel interleaves stdout and stderr wherever it happens to flush."""
    streams = {"stdout": [], "stderr": []}
    displays = []
    for output in cell.outputs:
        kind = output.output_type
        if kind == "stream":
            streams[output.name].append(output.text)
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            if "image/png" in data:
                displays.append("image/png")
            elif "text/plain" in data:
                displays += [skeleton_line(line) for line in data["text/plain"].splitlines()]
            else:
                displays.append(f"{kind} {sorted(data)}")
        else:
            displays.append(kind)
    text = {name: _collapse_repeats([skeleton_line(line) for line in
                                     screen_lines("".join(parts))
                                     if line and not ABSL_LINE.match(line)
                                     and not TIMING_LINE.match(line)])
            for name, parts in streams.items()}
    return [f"[stdout] {line}" for line in text["stdout"]] + \
        [f"[stderr] {line}" for line in text["stderr"]] + [f"[display] {d}" for d in displays]


def _collapse_repeats(lines):
    return [line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1]]


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook_path(request):
    return request.param


def test_there_is_a_notebook_per_article_section():
    stems = [p.stem[:2] for p in NOTEBOOKS]
    assert stems == [f"{i:02d}" for i in range(1, len(NOTEBOOKS) + 1)], stems
    assert len(NOTEBOOKS) >= 9, [p.name for p in NOTEBOOKS]


def test_readme_lists_every_notebook_with_its_run_time():
    readme = (REPO / "notebooks" / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        row = next((line for line in readme.splitlines() if path.name in line), None)
        assert row is not None, f"notebooks/README.md does not list {path.name}"
        assert re.search(r"\d+ ?(s|min)\b", row), f"no run time in its row: {row}"


def test_committed_notebook_ran_top_to_bottom_with_outputs(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    cells = code_cells(notebook)
    counts = [cell.get("execution_count") for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{notebook_path.name}: execution counts {counts}: not one top-to-bottom run; rerun "
        f"it with python scripts/run_notebooks.py {notebook_path.relative_to(REPO)}")
    for index, cell in enumerate(cells):
        assert cell.outputs, (f"{notebook_path.name}: code cell {index + 1} has no outputs "
                              f"(every cell shows what it did): {cell.source[:80]!r}")
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{notebook_path.name}: code cell {index + 1} ends in an error"
    images = sum("image/png" in o.get("data", {}) for c in cells for o in c.outputs)
    assert images >= 1, f"{notebook_path.name}: no plot in its outputs"


def test_every_code_cell_follows_a_markdown_cell(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown", f"{notebook_path.name}: starts without its title cell"
    for index, (before, cell) in enumerate(zip(kinds, kinds[1:]), start=1):
        # Two code cells in a row are fine only when the first only sets up the second.
        if before == "code" and cell == "code":
            pytest.fail(f"{notebook_path.name}: cells {index} and {index + 1} are code cells "
                        f"with no explanation between them")


def test_notebook_defines_no_library_code(notebook_path):
    allowed = MAY_DEFINE.get(notebook_path.name, set())
    if allowed is None:
        pytest.skip("08's sketches are the issue's few-line models built from tfbig.layers")
    notebook = nbformat.read(notebook_path, as_version=4)
    for index, cell in enumerate(code_cells(notebook)):
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        for node in ast.parse(source).body:  # top level: methods of an allowed class pass
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "attr", getattr(b, "id", "")) for b in node.bases}
                assert node.name in allowed or not bases & KERAS_BASES, (
                    f"{notebook_path.name} cell {index + 1} defines {node.name}: notebooks use "
                    f"tfbig's layers and models")
            if isinstance(node, ast.FunctionDef):
                assert node.name not in ("train_step", "call", "build"), (
                    f"{notebook_path.name} cell {index + 1} defines {node.name}(): notebooks "
                    f"use tfbig's models and training")


@pytest.mark.slow
def test_notebook_reruns_with_the_committed_outputs(notebook_path, monkeypatch):
    from nbmake.nb_run import NotebookRun

    monkeypatch.setenv("TFBIG_NOTEBOOK_SIZE", "small")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    result = NotebookRun(notebook_path, 900).execute()
    if result.error is not None:
        pytest.fail(f"{notebook_path.name} failed in cell {result.error.failing_cell_index}: "
                    f"{result.error.summary}\n{result.error.trace[-3000:]}")
    committed = code_cells(nbformat.read(notebook_path, as_version=4))
    fresh = code_cells(result.nb)
    assert len(fresh) == len(committed)
    for index, (old, new) in enumerate(zip(committed, fresh)):
        before, after = skeleton(old), skeleton(new)
        if before != after:
            changed = list(difflib.unified_diff(before, after, "committed", "rerun", n=1,
                                                lineterm=""))[:20]
            pytest.fail(
                f"{notebook_path.name} code cell {index + 1} printed something else than its "
                f"committed outputs ({len(before)} vs {len(after)} lines); rerun it with "
                f"python scripts/run_notebooks.py if the change is meant:\n" + "\n".join(changed))
