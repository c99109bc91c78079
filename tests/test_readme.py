"""The README's two commands are the ones CI runs, as written.

CI (``.ci/run``) proves them on a fresh virtualenv: the first command's install, exactly, then
a train → predict → evaluate smoke; the second command, exactly. These tests keep the README
and ``.ci/run`` from drifting apart, so a newcomer copies what CI proved.
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_commands():
    """The ``bash`` blocks of the README's "Two commands" section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def ci_lines():
    """``.ci/run``'s lines, with pip's ``-q`` (quiet) taken out."""
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    return [re.sub(r"\s-q\b", "", line).strip() for line in text.splitlines()]


def test_the_readme_has_two_single_line_commands():
    commands = readme_commands()
    assert len(commands) == 2 and all("\n" not in command for command in commands), commands
    install, run = commands[0].split(" && ")
    assert install.startswith("pip install ") and "[" not in install  # no extras
    assert run == "python -m tfbig.train"


def test_ci_installs_exactly_as_the_first_command_says():
    install = readme_commands()[0].split(" && ")[0]
    assert install in ci_lines()
    train = next(line for line in ci_lines() if "python -m tfbig.train" in line)
    assert ci_lines().index(install) < ci_lines().index(train)  # installed, then run


def test_ci_runs_the_second_command_as_written():
    assert readme_commands()[1] in ci_lines()
