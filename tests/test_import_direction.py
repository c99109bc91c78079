"""Imports point down the layer order of ``docs/architecture.md``, and packages form no cycle.

Every ``import`` in ``tfbig/`` is read with ``ast``, the ones inside functions too (a lazy
import is still a dependency). A module may import its own layer or any layer below it.

"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The layer order, bottom first (docs/architecture.md). Keys are the first name under tfbig.
LAYERS = [
    # 0 foundation: errors, config, the bits every layer shares; no tfbig imports above it
    ("foundation", {"errors", "optional", "special_tokens", "config", "config_fields", "ops",
                    "cpu_kernels",
                    "quiet_start", "run_folder", "losses", "metrics", "scoring", "plots"}),
    ("layers", {"layers"}),
    ("models", {"models"}),
    ("data", {"data"}),
    ("generation, serving, checkpoints", {"generation", "serving", "checkpoints"}),
    ("training", {"training"}),
    ("tasks", {"tasks"}),
    ("inference", {"inference"}),
    ("runs", {"runs"}),
    ("evaluation, exporting, tuning", {"evaluation", "exporting", "tuning"}),
    ("commands", {"cli", "train", "finetune", "predict", "evaluate", "export", "tune", "prepare",
                  "__main__"}),
]
LEVEL = {unit: level for level, (_, units) in enumerate(LAYERS) for unit in units}

def unit_of(module):
    """``tfbig.data.sources`` → ``data``; ``tfbig.cli`` → ``cli``; ``tfbig`` → ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tfbig_imports(path):
    """``(imported tfbig module, line)`` for every import in a file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from tfbig import run_folder` imports tfbig.run_folder
            names = ([f"tfbig.{alias.name}" for alias in node.names] if node.module == "tfbig"
                     else [node.module])
        else:
            continue
        for name in names:
            if name.startswith("tfbig.") and name != "tfbig.__version__":
                yield name, node.lineno


def all_imports():
    """``(importer, imported, "path:line")`` over ``tfbig/``, the package's own
    ``__init__`` (which only loads the CPU kernels setting) left out."""
    for path in sorted((ROOT / "tfbig").rglob("*.py")):
        importer = module_name(path)
        if importer == "tfbig":
            continue
        for imported, line in tfbig_imports(path):
            yield importer, imported, f"{path.relative_to(ROOT)}:{line}"


def upward(imports):
    """The imports whose target sits in a higher layer than the importer."""
    found = {}
    for importer, imported, where in imports:
        source, target = unit_of(importer), unit_of(imported)
        if source != target and LEVEL[source] < LEVEL[target]:
            found.setdefault((importer, imported), where)
    return found


def test_every_part_of_tfbig_has_a_layer():
    units = {unit_of(module_name(path)) for path in (ROOT / "tfbig").rglob("*.py")} - {""}
    assert not units - set(LEVEL), f"add to LAYERS (and docs/architecture.md): {units - set(LEVEL)}"


def test_imports_point_down():
    found = upward(all_imports())
    assert not found, "upward imports (see docs/architecture.md):\n" + "\n".join(
        f"{where}: {importer} imports {imported}" for (importer, imported), where in found.items())


def test_no_package_imports_another_that_imports_it_back():
    graph = {}
    for importer, imported, _ in all_imports():
        if unit_of(importer) != unit_of(imported):
            graph.setdefault(unit_of(importer), set()).add(unit_of(imported))

    def reaches(start, goal, seen=()):
        return any(step == goal or (step not in seen and reaches(step, goal, (*seen, step)))
                   for step in graph.get(start, ()))

    cycles = sorted(unit for unit in graph if reaches(unit, unit))
    assert not cycles, f"packages in an import cycle: {cycles}"


@pytest.mark.parametrize("line, importer", [
    ("from tfbig.runs.fit import train", "tfbig.layers.attention"),  # layers → training
    ("    from tfbig.evaluation import report", "tfbig.data.sources"),  # inside a function
    ("from tfbig import inference", "tfbig.models.gpt"),
])
def test_an_upward_import_is_caught(tmp_path, line, importer):
    source = tmp_path / "module.py"
    source.write_text(f"def f():\n    pass\n\nif True:\n{line if line.startswith(' ') else '    ' + line}\n")
    imports = [(importer, imported, f"module.py:{n}") for imported, n in tfbig_imports(source)]
    assert list(upward(imports)) == [(importer, imports[0][1])]


def test_the_architecture_page_names_every_layer_and_part():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = sorted(unit for unit in LEVEL if unit not in page)
    assert not missing, f"docs/architecture.md does not name {missing}"
