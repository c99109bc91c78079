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


@pytest.fixture
def eager_and_mapped():
    """``check(op, *inputs)``: run ``op`` eagerly and inside ``tf.data.Dataset.map`` (parallel,
    in the graph), assert both give identical outputs, return the eager one as NumPy.

    big_vision's rule for preprocessing ops: "you'd be surprised how much these two differ".
    """
    import numpy as np
    import tensorflow as tf

    def check(op, *inputs):
        inputs = tuple(tf.convert_to_tensor(x) for x in inputs)
        eager = op(*inputs)
        dataset = tf.data.Dataset.from_tensors(inputs).repeat(2).map(
            op, num_parallel_calls=2, deterministic=True)
        for mapped in dataset:
            tf.nest.map_structure(np.testing.assert_array_equal, eager, mapped)
        return tf.nest.map_structure(lambda x: x.numpy(), eager)

    return check
