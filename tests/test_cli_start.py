"""A quiet, informative start: the commands hide TensorFlow's C++ start-up lines
(``--verbose`` and a user's own ``TF_CPP_MIN_LOG_LEVEL`` are respected), print no Python
warning, and ``train`` says first what it will do."""

import os
import re
import subprocess
import sys

import pytest

from tfbig import quiet_start

# As a newcomer's shell has it: no TF_CPP_MIN_LOG_LEVEL, no PYTHONWARNINGS.
FRESH_ENV = {name: value for name, value in os.environ.items()
             if name not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
ABSL_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+ +\d+ ([^\]\s]+:\d+)\] (.*)$", re.M)
NOISE = ("E0000", "cuInit", "Traceback", "UserWarning", "absl::InitializeLog", "DT_INT64")


def python(*args, env=FRESH_ENV, **overrides):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env={**env, **overrides}, timeout=600)


def tensorflow_lines(stderr):
    """The absl-format lines TensorFlow logged: ``[(severity, "file.cc:NN"), ...]``."""
    return sorted((severity, where) for severity, where, _ in ABSL_LINE.findall(stderr))


def test_train_starts_quietly_and_says_what_will_happen(tmp_path):
    run_dir = tmp_path / "run"
    result = python("-m", "tfbig.train", "--epochs", "2", "--steps-per-epoch", "2",
                    "--set", "model.preset=tiny", "--output", str(run_dir), "--seed", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    for text in NOISE:
        assert text not in result.stderr and text not in result.stdout, result.stderr
    assert not ABSL_LINE.search(result.stderr), result.stderr
    lines = result.stderr.splitlines()
    expected = [
        r"data: translate task, the shipped sample dates\.tsv: [\d,]+ train, [\d,]+ validation, "
        r"[\d,]+ test examples",
        r"model: transformer, [\d,]+ parameters, [\d,]+ trainable",
        r"devices: \d+ [CG]PUs?( .*)?; strategy \w+ \(auto\), \d+ replicas?, global batch 64"
        r"( \(\d+ a replica\))?",
        r"compute: XLA o(n|ff) \(auto\), precision float32 \(auto: no GPU or TPU\)",
        re.escape(f"run folder: {run_dir} (the same command with --output {run_dir} "
                  f"resumes it)"),
        r"time: epoch 1 took [\d.]+ s( \([\d.]+ s of it tracing\))?; the last should take "
        r"about [\d.]+ s",
    ]
    found = []
    for pattern in expected:
        matches = [i for i, line in enumerate(lines) if re.fullmatch(pattern, line)]
        assert len(matches) == 1, (pattern, result.stderr)  # once each
        found.append(matches[0])
    assert found == sorted(found), result.stderr  # in this order
    # First what the data decided, a line a key with its reason; then the five start lines.
    chosen = [line for line in lines if line.startswith("default from the data: ")]
    assert chosen[0].startswith("default from the data: data.tokenizer=char ("), chosen
    assert all(re.fullmatch(r"default from the data: [\w.]+=\S+ \(.+\)", line)
               for line in chosen), chosen
    first = len(chosen)
    assert lines[:first] == chosen, result.stderr
    assert found[:5] == list(range(first, first + 5)), result.stderr  # nothing in between
    assert "Epoch 1/2" in lines[found[4]:found[5]]  # the estimate follows the first epoch
    assert f"run folder: {run_dir}" in result.stdout.splitlines()


# A command's main that imports TensorFlow and finds its devices (which probes for CUDA),
# then prints TF_CPP_MIN_LOG_LEVEL as the command left it.
SCRIPT = ("import os, sys\nfrom tfbig.cli import run\n"
          "def main(argv):\n"
          "    import tensorflow as tf\n"
          "    tf.config.list_logical_devices('GPU')\n"
          "    print(os.environ.get('TF_CPP_MIN_LOG_LEVEL', 'unset'))\n"
          "sys.exit(run(main, sys.argv[1:]))\n")
PLAIN = "import tfbig, tensorflow as tf; tf.config.list_logical_devices('GPU')"


def test_a_command_sets_level_3_and_hides_tensorflows_import_lines():
    result = python("-c", SCRIPT)
    assert result.returncode == 0 and result.stdout == "3\n", result.stderr
    assert result.stderr == "", result.stderr


@pytest.fixture(scope="module")
def plain_lines():
    """What TensorFlow logs at start-up with nobody filtering: the reference for the tests
    below (one TensorFlow import, shared: each costs seconds)."""
    plain = python("-c", PLAIN)
    assert plain.returncode == 0, plain.stderr
    return tensorflow_lines(plain.stderr)


@pytest.mark.parametrize("level", ["0", "1"])
def test_a_level_the_user_set_is_kept_and_applies_to_the_import_lines_too(level, plain_lines):
    """Their level wins over ours, and it also hides the lines TensorFlow logs while it
    loads, before it reads the variable (TensorFlow 2.21 prints those at any level)."""
    result = python("-c", SCRIPT, TF_CPP_MIN_LOG_LEVEL=level)
    assert result.returncode == 0 and result.stdout == f"{level}\n", result.stderr
    wanted = [(severity, where) for severity, where in plain_lines
              if "IWEF".index(severity) >= int(level)]
    assert tensorflow_lines(result.stderr) == wanted, result.stderr


def test_verbose_leaves_tensorflows_logging_alone(plain_lines):
    result = python("-c", SCRIPT, "--verbose")
    assert result.returncode == 0 and result.stdout == "unset\n", result.stderr
    assert tensorflow_lines(result.stderr) == plain_lines, result.stderr


@pytest.mark.parametrize("line, shown_from_level", [
    ("WARNING: All log messages before absl::InitializeLog() is called are written to "
     "STDERR\n", 1),
    ("I0000 00:00:1796590658.742647    3769 port.cc:153] oneDNN custom operations are on.\n",
     1),
    ("W0000 00:00:1796590658.742647    3769 a.cc:1] a warning\n", 2),
    ("E0000 00:00:1796590663.841148    3769 cuda_platform.cc:52] failed call to cuInit\n", 3),
    ("F0000 00:00:1796590663.841148    3769 b.cc:2] fatal\n", 4),
    ("a line of Python's own\n", 4),
])
def test_import_lines_are_kept_by_severity(line, shown_from_level):
    assert [quiet_start.keep_start_line(line, level) for level in range(4)] == [
        level < shown_from_level for level in range(4)]


@pytest.mark.parametrize("command", ["train", "finetune", "tune", "predict", "evaluate",
                                     "export"])
def test_every_command_has_verbose(command):
    import importlib

    help_text = importlib.import_module(f"tfbig.{command}").build_parser().format_help()
    assert "--verbose" in help_text and "--debug" in help_text


def test_framing_ids_transposes_no_int64():
    """``[START] ids [END]`` without ragged concatenation, whose int64 Transpose made
    TensorFlow log "oneDNN supports DT_INT64 only on platforms with AVX-512" (an E0000
    line) in every training run; the same rows as that concatenation."""
    import tensorflow as tf

    from tfbig.data.batching import add_cls_sep, add_start_end

    def concatenated(ids, first, last, max_tokens):
        ids = ids if max_tokens is None else ids[:, :max_tokens]
        column = tf.fill([ids.nrows(), 1], tf.cast(first, ids.dtype))
        return tf.concat([tf.RaggedTensor.from_tensor(column), ids,
                          tf.RaggedTensor.from_tensor(column * 0 + tf.cast(last, ids.dtype))],
                         axis=1)

    for dtype in (tf.int32, tf.int64):
        for rows in ([[5, 6, 7], [], [8]], [[]], [[1, 2, 3, 4, 5], [6]]):
            ids = tf.ragged.constant(rows, dtype=dtype, row_splits_dtype=tf.int64)
            for max_tokens in (None, 0, 2, 10):
                framed = add_start_end(ids, max_tokens)
                assert framed.dtype == dtype
                assert framed.to_list() == concatenated(ids, 2, 3, max_tokens).to_list()
                assert (add_cls_sep(ids, max_tokens, 101, 102).to_list()
                        == concatenated(ids, 101, 102, max_tokens).to_list())
    empty = tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.int64),
                                             tf.zeros([0], tf.int64))
    assert add_start_end(empty, None).to_list() == []

    graph = tf.function(lambda ids: add_start_end(ids, 4).to_tensor()).get_concrete_function(
        tf.RaggedTensorSpec([None, None], tf.int64, ragged_rank=1)).graph
    assert "Transpose" not in {op.type for op in graph.get_operations()}
