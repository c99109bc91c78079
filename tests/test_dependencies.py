"""Every package tfbig imports is installed by ``pip install .``, or is optional and guarded.

Once, ``python -m tfbig.train`` trained an epoch and then stopped on a missing sacrebleu that
only the ``[dev]`` extra installed; a ``[dev]`` test environment could not see it. These tests
read the source instead: every ``import`` in ``tfbig/`` (inside functions too, via ``ast``)
must name the standard library, tfbig itself, or a distribution in ``install_requires``.
Optional packages are never imported by statement: only through ``tfbig.optional.require``,
whose table names the extra that installs each one.
"""

import ast
import configparser
import functools
import importlib.metadata
import pathlib
import re
import sys

import pytest

from tfbig import optional
from tfbig.errors import TfbigError

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "tfbig").rglob("*.py"))


def _requirement_names(lines):
    """Normalised distribution names of requirement lines (``name>=1,<2`` → ``name``)."""
    return {re.split(r"[\s<>=!~\[;]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for line in lines.strip().splitlines() if line.strip()}


def _setup_cfg():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def imported_modules(path):
    """``(top-level module, line)`` of every absolute import in a file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0], node.lineno


@functools.cache
def distributions_of(module):
    """The installed distributions that provide ``module`` (``yaml`` → ``{"pyyaml"}``)."""
    return {name.lower().replace("_", "-")
            for name in importlib.metadata.packages_distributions().get(module, [])}


def required_by(module, distributions):
    """Which of ``distributions`` (e.g. install_requires) provide ``module``."""
    return distributions_of(module) & distributions


def test_every_import_is_a_dependency_or_stdlib():
    required = _requirement_names(_setup_cfg()["options"]["install_requires"])
    wrong = []
    for path in SOURCES:
        for module, line in imported_modules(path):
            if module in sys.stdlib_module_names or module == "tfbig":
                continue
            if module in optional.OPTIONAL:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: imports optional {module} by "
                             f"statement; use tfbig.optional.require({module!r})")
            elif not required_by(module, required):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} is not provided by "
                             f"any package in install_requires")
    assert not wrong, "\n".join(wrong)


def test_the_scan_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "lazy.py"
    source.write_text("import os\n\ndef f():\n    from sacrebleu import corpus_bleu\n"
                      "    import PIL.Image\n")
    assert list(imported_modules(source)) == [("os", 1), ("sacrebleu", 4), ("PIL", 5)]


def test_a_dependency_only_in_an_extra_is_caught():
    """The case that shipped once: sacrebleu only in [eval]/[dev] would fail the scan."""
    required = _requirement_names(_setup_cfg()["options"]["install_requires"])
    assert required_by("sacrebleu", required) == {"sacrebleu"}
    assert required_by("sacrebleu", required - {"sacrebleu"}) == set()
    assert required_by("sentencepiece", required) == set()  # optional: an extra only


def optional_modules_asked_for():
    """The string arguments of every ``optional.require(...)``/``optional.check([...])``."""
    asked = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("require", "check")):
                asked |= {constant.value for argument in node.args
                          for constant in ast.walk(argument)
                          if isinstance(constant, ast.Constant)}
    return asked


def test_each_optional_package_is_used_and_installed_by_its_extra():
    extras = {name: _requirement_names(lines)
              for name, lines in _setup_cfg()["options.extras_require"].items()}
    assert optional_modules_asked_for() == set(optional.OPTIONAL)
    for module, package in optional.OPTIONAL.items():
        extra = re.fullmatch(r"pip install 'tfbig\[(\w+)\]'", package.install)
        if extra:
            assert extra.group(1) in extras, package.install
            if distributions_of(module):  # installed here: its extra is what brings it
                assert required_by(module, extras[extra.group(1)]), (module, package.install)


@pytest.mark.parametrize("module", sorted(optional.OPTIONAL))
def test_a_missing_optional_package_is_one_line_naming_the_install(module, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails
    with pytest.raises(TfbigError) as raised:
        optional.require(module)
    message = str(raised.value)
    assert "\n" not in message
    assert f"needs the {module} package" in message
    assert message.endswith(f"run: {optional.OPTIONAL[module].install}")
