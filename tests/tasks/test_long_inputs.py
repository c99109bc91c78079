"""Long-input text-to-text (summarisation-style): documents of several hundred tokens train
whole under the default limits, a tiny model learns their summary, and every cut — training,
validation, test, predict — is reported once, with counts (``tfbig.data.truncation``)."""

import contextlib
import io
import re

import pytest
from tasks.task_checks import predict_lines, train_run, write_lines

from tfbig.data.samples_documents import NAMES, PLACES, document_pairs
from tfbig.data.splits import split_examples
from tfbig.data.truncation import count_truncated, truncation_message, warn_truncated

WORD = {"task": "translate", "data.tokenizer": "word", "train.epoch_metrics_examples": 0,
        "model.dropout_rate": 0.0}
# The one-line format (tfbig.data.truncation); group 3 is the split, none for predict.
WARNING = re.compile(r"^tfbig: ([\d,]+) (?:of|in a sample of) ([\d,]+) (?:(\w+) )?"
                     r"(sources|targets|texts|inputs) \(([\d.]+)%\) are longer than "
                     r"(\S+)=(\d+) tokens and are cut \(longest: ([\d,]+)\); raise \S+ "
                     r"\(and model.max_length, now \d+\) to keep them$")


def write_documents(folder, count, seed=0, **words):
    pairs = document_pairs(count, seed, **words)
    return pairs, write_lines(folder / "documents.tsv",
                              [f"{source}\t{target}\n" for source, target in pairs])


def warnings(text):
    """The truncation lines of ``text`` (stderr), each checked to be the one-line format."""
    lines = [line for line in text.splitlines() if line.startswith("tfbig: ")]
    assert all(WARNING.match(line) for line in lines), lines
    return lines


def train_quietly(tmp_path_factory, **overrides):
    """``train_run`` with stderr captured: ``(run_dir, summary, stderr text)``."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        run_dir, summary = train_run(tmp_path_factory, **overrides)
    return run_dir, summary, stderr.getvalue()


# ------------------------------------------------------------------------- the counting
def test_counts_and_the_one_line_message():
    counts = count_truncated([10, 300, 65, 64, 611], 64)
    assert (counts.cut, counts.total, counts.longest, counts.limit) == (3, 5, 611, 64)
    assert truncation_message(counts, what="training sources", field="data.max_source_length",
                              max_length=512) == (
        "tfbig: 3 of 5 training sources (60.0%) are longer than data.max_source_length=64 "
        "tokens and are cut (longest: 611); raise data.max_source_length (and "
        "model.max_length, now 512) to keep them")
    sampled = truncation_message(count_truncated([2000] * 37 + [5] * 1163, 256), sample=True,
                                 what="training texts", field="data.max_source_length")
    assert sampled.startswith("tfbig: 37 in a sample of 1,200 training texts (3.1%) are ")
    assert sampled.endswith("(longest: 2,000); raise data.max_source_length to keep them")
    for nothing_cut in ([], [3, 64]):
        assert truncation_message(count_truncated(nothing_cut, 64), what="inputs",
                                  field="data.max_source_length") is None


def test_warn_prints_one_line_only_when_something_is_cut(capsys):
    assert warn_truncated([1, 2], 5, what="inputs", field="data.max_source_length").cut == 0
    assert capsys.readouterr().err == ""
    assert warn_truncated([9, 2], 5, what="inputs", field="data.max_source_length").cut == 1
    assert capsys.readouterr().err.count("\n") == 1


# ------------------------------------------------------- limits without training a model
def test_a_source_longer_than_the_position_table_is_cut_there(tmp_path, capsys):
    """``model.max_length`` caps the source length (and names itself in the warning); a
    prediction input 10x longer than the table neither crashes nor goes unreported."""
    from tfbig.tasks import get_task, resolve_config

    pairs, path = write_documents(tmp_path, 40, min_words=40, max_words=120)
    task = get_task(resolve_config({**WORD, "model.preset": "tiny", "model.max_length": 32,
                                    "data.path": path}))
    task.learn_assets(pairs)
    config = task.resolve_lengths(pairs)
    assert config.data.max_source_length == 32
    lines = warnings(capsys.readouterr().err)
    assert len(lines) == 1 and "40 of 40 training sources (100.0%)" in lines[0]
    assert f"(longest: {max(len(s.split()) for s, _ in pairs)})" in lines[0]
    model = task.build_model()
    long_input = " ".join(pairs[0][0].split() * 4)  # 160 words and more
    outputs = predict_lines((task, model), [long_input, "mira feeds the goat ."])
    assert len(outputs) == 2
    (line,) = warnings(capsys.readouterr().err)
    assert line.startswith("tfbig: 1 of 2 inputs (50.0%) are longer than "
                           "data.max_source_length=32 tokens")


def test_a_streamed_corpus_is_counted_on_its_sample(tmp_path, capsys):
    from tfbig.tasks import get_task, resolve_config
    from tfbig.tasks.streaming import TrainStream

    pairs, path = write_documents(tmp_path, 30, min_words=20, max_words=100)
    task = get_task(resolve_config({**WORD, "data.path": path,
                                    "data.max_source_length": 50}))
    task.learn_assets(pairs)
    sample = TrainStream(pairs, open_stream=None, files=[path], sample_size=len(pairs),
                         train_fraction=0.8)  # a full sample: the stream holds more
    task.resolve_lengths(sample)
    cut = sum(len(source.split()) > 50 for source, _ in pairs)
    (line,) = warnings(capsys.readouterr().err)
    assert line.startswith(f"tfbig: {cut} in a sample of 30 training sources")


def test_classify_counts_its_cut_texts(tmp_path, capsys):
    from tfbig.tasks import get_task, resolve_config

    examples = [(source, target.split()[0]) for source, target in
                document_pairs(40, 0, min_words=10, max_words=60)]
    task = get_task(resolve_config({"task": "classify", "data.tokenizer": "word",
                                    "data.max_source_length": 30}))
    task.learn_assets(examples)
    task.resolve_lengths(examples)
    task.warn_truncation({"train": examples, "validation": examples[:10], "test": []})
    lines = warnings(capsys.readouterr().err)
    cut = [sum(len(text.split()) + 2 > 30 for text, _ in part)
           for part in (examples, examples[:10])]
    assert [line.split(" (")[0] for line in lines] == [
        f"tfbig: {cut[0]} of 40 training texts", f"tfbig: {cut[1]} of 10 validation texts"]


# -------------------------------------------------------------------------- trained runs
@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    """Documents of 150-300 words, the default limits (the longest training source); 60
    steps. Learned positions: with the sinusoidal table the tiny model learnt the name as
    fast but the place more slowly (teacher-forced place accuracy 0.4 against 0.95 after 60
    steps, docs/long-inputs.md)."""
    pairs, path = write_documents(tmp_path_factory.mktemp("long"), 480, max_words=300)
    return pairs, *train_quietly(tmp_path_factory, **WORD, **{
        "data.path": path, "model.positional": "learned", "train.learning_rate": 1e-2,
        "train.epochs": 3, "train.steps_per_epoch": 20})


@pytest.mark.slow
def test_long_sources_train_whole_and_predict(long_run):
    from tfbig.inference import load_run

    pairs, run_dir, summary, stderr = long_run
    task, model = load_run(run_dir)
    longest = max(len(source.split()) for source, _ in pairs)
    train_longest = task.config.data.max_source_length  # no training source is cut
    assert longest >= 290 and train_longest >= 280
    # Held-out documents longer than every training one are cut (and said so), no others.
    assert all(re.search(r"of \d+ (validation|test) sources", line) for line in warnings(stderr))
    sources = [source for source, _ in pairs[:3]]
    assert all(len(output.split()) == 2 for output in predict_lines((task, model), sources))


@pytest.mark.slow
def test_a_tiny_model_learns_the_summary_of_whole_documents(long_run):
    """Chance: 1/8 for the name, 1/48 for name and place together."""
    _, _, summary, _ = long_run
    test = summary["test"]
    assert test["examples"] >= 80
    assert test["exact_match"] > 20 / (len(NAMES) * len(PLACES)), test  # measured: ≈ 0.8
    assert test["token_accuracy"] > 0.75, test  # name, place and [END]


def test_a_lower_limit_is_reported_once_per_split_with_counts(tmp_path, capsys):
    """What ``train`` reports (``resolve_lengths`` for training, then ``warn_truncation`` for
    the held-out splits; ``long_run`` checks that a real run prints them)."""
    from tfbig.tasks import get_task, resolve_config

    pairs, path = write_documents(tmp_path, 160, min_words=20, max_words=150)
    splits = split_examples(pairs, None, validation=0.05, test=0.2)
    task = get_task(resolve_config({**WORD, "data.path": path, "data.max_source_length": 64}))
    task.learn_assets(splits["train"])
    task.resolve_lengths(splits["train"])
    task.warn_truncation(splits)
    lines = warnings(capsys.readouterr().err)
    assert [WARNING.match(line).group(3) for line in lines] == ["training", "validation",
                                                                "test"]
    for line, split in zip(lines, ("train", "validation", "test")):
        lengths = [len(source.split()) for source, _ in splits[split]]
        cut = sum(length > 64 for length in lengths)
        assert line.startswith(f"tfbig: {cut} of {len(lengths)} ")
        assert f"data.max_source_length=64 tokens and are cut (longest: {max(lengths)})" in line


@pytest.mark.slow
def test_predict_reports_a_cut_input_once_and_answers_every_line(long_run, tmp_path, capsys):
    from tfbig.cli import run
    from tfbig.predict import main as predict_main

    pairs, run_dir, _, _ = long_run
    long_input = " ".join([pairs[0][0]] * 10)
    lines = [long_input, "mira feeds the goat near the river ."] * 2
    inputs = write_lines(tmp_path / "inputs.txt", [line + "\n" for line in lines])
    assert run(predict_main, ["--run", run_dir, "--input", inputs, "--batch-size", "2"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4
    (line,) = warnings(captured.err)  # one line for both batches
    assert re.match(r"tfbig: 2 of 4 inputs \(50\.0%\) are longer than "
                    r"data\.max_source_length=\d+ tokens", line), line
    assert len(long_input.split()) > 512  # past any limit (model.max_length caps them)
    assert f"(longest: {len(long_input.split()):,})" in line
