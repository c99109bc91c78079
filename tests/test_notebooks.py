"""The notebooks: committed with the outputs of a real run, and still true when rerun.

Each notebook runs top to bottom through nbmake at ``TFBIG_NOTEBOOK_SIZE=small`` (the size
``scripts/run_notebooks.py`` commits them at), and each code cell's fresh outputs are
compared with the committed ones on what an API change alters: the kind of every display
(a plot that disappeared), the shapes printed and the names (``val_loss``, ``exact_match``,
``model.keras``): a renamed metric, a changed shape or a lost plot fails the test, so a
committed notebook cannot show an older API than the library's. Numbers and a small model's
predictions are not compared: another CPU rounds differently.
"""

import ast
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
# Absolute paths (a temporary folder, the checkout's sample data): they differ by machine.
PATH = re.compile(r"(?<![\w.])/(?:[\w.@+-]+/)+[\w.@+-]*")
SHAPE = re.compile(r"\((?:\d+|None)(?:, (?:\d+|None))+\)|\((?:\d+|None),\)|TensorShape\(\[[^\]]*\]\)")
# Durations as tfbig prints them ("4.9 s", "2 min 10 s", "1 h 05 min"): the unit changes
# with the machine's speed. And tfbig's "time: epoch 1 took …" estimate, whose wording
# depends on how long tracing took: timing, not the notebook's content.
DURATION = re.compile(r"\d+ h \d+ min|\d+ min(?: \d+ s)?|\d+(?:\.\d+)? s\b")
TIMING_LINE = re.compile(r"^time: ")
NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)+\b")
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


def masked(line):
    """A line with its paths, durations and numbers masked, its shapes kept."""
    line = PATH.sub("<path>", line)
    line = DURATION.sub("<duration>", line)
    shapes = SHAPE.findall(line)
    line = SHAPE.sub("\0", line)
    line = NUMBER.sub("#", line)
    for shape in shapes:
        line = line.replace("\0", shape, 1)
    return line


def fingerprint(cell):
    """What an API change alters in a code cell's outputs, and a machine does not: the
    kind of each display in order (a plot that disappeared), the shapes printed, and the
    names (identifiers with ``_`` or ``.``: ``val_loss``, ``exact_match``, ``model.keras``,
    ``tfbig.train``). Numbers, and what a small model predicts, may differ by machine (a
    CPU with other instructions rounds differently), so the rest of the text is not
    compared."""
    texts, displays = [], []
    for output in cell.outputs:
        kind = output.output_type
        if kind == "stream":
            texts.append(output.text)
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            if "image/png" in data:
                displays.append("image/png")
            else:
                displays.append(kind)
                texts.append(data.get("text/plain", ""))
        else:
            displays.append(kind)
    names, shapes = set(), set()
    for line in screen_lines("\n".join(texts)):
        if not line or ABSL_LINE.match(line) or TIMING_LINE.match(line):
            continue
        line = masked(line)
        shapes.update(SHAPE.findall(line))
        names.update(NAME.findall(line))
    return {"displays": displays, "shapes": sorted(shapes), "names": sorted(names)}


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
        # Literate style: each step is explained before its code (STYLE.md, notebooks).
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
    # As scripts/run_notebooks.py: the notebook's quiet_tensorflow() sets the level
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    result = NotebookRun(notebook_path, 900).execute()
    if result.error is not None:
        pytest.fail(f"{notebook_path.name} failed in cell {result.error.failing_cell_index}: "
                    f"{result.error.summary}\n{result.error.trace[-3000:]}")
    committed = code_cells(nbformat.read(notebook_path, as_version=4))
    fresh = code_cells(result.nb)
    assert len(fresh) == len(committed)
    for index, (old, new) in enumerate(zip(committed, fresh)):
        before, after = fingerprint(old), fingerprint(new)
        if before != after:
            changes = [f"{key}: committed {before[key]}, rerun {after[key]}"
                       for key in before if before[key] != after[key]]
            lost = sorted(set(before["names"]) - set(after["names"]))
            new_names = sorted(set(after["names"]) - set(before["names"]))
            pytest.fail(
                f"{notebook_path.name} code cell {index + 1} shows something else than its "
                f"committed outputs (names gone: {lost}, new: {new_names}); rerun it with "
                f"python scripts/run_notebooks.py if the change is meant:\n"
                + "\n".join(change[:600] for change in changes))
