"""Fixtures for the data tests: write small, possibly malformed, files into ``tmp_path``."""

import pytest


@pytest.fixture
def write(tmp_path):
    """``write(name, content)`` -> path string; ``str`` content is UTF-8, ``bytes`` is raw."""

    def write_file(name: str, content) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return str(path)

    return write_file
