"""The lm task end to end: a tiny GPT beats the unigram baseline on held-out text, and
predict continues lines with every decoding method."""

import json
import math
import os

import numpy as np
import pytest
from tasks.task_checks import (check_evaluate, check_run_folder, predict_lines, sample_lines,
                               train_run, write_lines)

from tfbig.errors import TfbigError
from tfbig.tasks import resolve_config

pytestmark = pytest.mark.slow

CORPUS = 1200  # lines of data/corpus.txt: ~900 train, ~240 test


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    corpus = write_lines(tmp_path_factory.mktemp("data") / "corpus.txt",
                         sample_lines("corpus.txt", CORPUS))
    return train_run(tmp_path_factory, **{"task": "lm", "data.path": corpus,
                                          "train.epochs": 3, "train.label_smoothing": 0.0})


def test_beats_the_unigram_baseline_on_held_out_text(trained):
    _, summary = trained
    test = summary["test"]
    assert test["perplexity"] < 0.6 * test["unigram_perplexity"], test
    assert test["perplexity"] == pytest.approx(math.exp(test["cross_entropy"]))
    assert 0.2 < test["token_accuracy"] < 1.0


def test_the_unigram_baseline_matches_numpy(trained):
    """Add-one smoothed training counts, scored on every test token and each line's [END]."""
    from tfbig.evaluation.report import held_out_examples
    from tfbig.inference import load_run
    from tfbig.special_tokens import END_ID

    run_dir, summary = trained
    task, _ = load_run(run_dir)
    _, texts = held_out_examples(task)
    with open(os.path.join(run_dir, "unigram_counts.json"), encoding="utf-8") as f:
        counts = np.array(json.load(f), np.float64)
    log_p = np.log((counts + 1) / (counts.sum() + len(counts)))
    ids = task.tokenizer.tokenize(texts).to_list()
    nats = -sum(log_p[line + [END_ID]].sum() for line in ids)
    tokens = sum(len(line) + 1 for line in ids)
    assert summary["test"]["tokens"] == tokens
    assert summary["test"]["unigram_perplexity"] == pytest.approx(math.exp(nats / tokens),
                                                                  rel=1e-5)


def test_perplexity_is_exp_of_the_mean_cross_entropy_over_real_tokens_only(trained):
    """Held-out lines padded to the model's length T, scored with NumPy from the model's
    logits: padding positions are left out of the mean that final_metrics exponentiates."""
    import tensorflow as tf

    from tfbig.evaluation.report import held_out_examples
    from tfbig.inference import load_run
    from tfbig.special_tokens import END_ID, START_ID

    run_dir, _ = trained
    task, model = load_run(run_dir)
    _, texts = held_out_examples(task)
    length = task.config.data.max_source_length
    lines = [(text, ids) for text, ids in zip(texts, task.tokenizer.tokenize(texts).to_list())
             if len(ids) + 1 <= length][:48]  # one window each: [START] ids → ids [END]
    inputs = np.zeros((len(lines), length), np.int32)
    targets = np.zeros((len(lines), length), np.int32)
    for row, (_, ids) in enumerate(lines):
        inputs[row, :len(ids) + 1] = [START_ID, *ids]
        targets[row, :len(ids) + 1] = [*ids, END_ID]
    real = targets != 0
    assert 0.2 < real.mean() < 0.95  # real tokens and padding both present
    logits = model(tf.constant(inputs), training=False).numpy().astype(np.float64)
    log_p = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    nll = -np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
    metrics, rows = task.final_metrics(model, [text for text, _ in lines])
    assert metrics["tokens"] == real.sum()
    assert metrics["cross_entropy"] == pytest.approx(nll[real].mean(), rel=1e-4)
    assert metrics["perplexity"] == pytest.approx(math.exp(nll[real].mean()), rel=1e-4)
    assert metrics["perplexity"] != pytest.approx(math.exp(nll.mean()), rel=1e-2)
    np.testing.assert_allclose([row["loss"] for row in rows],
                               (nll * real).sum(axis=1) / real.sum(axis=1), rtol=1e-4)


def test_run_folder_predict_and_evaluate(trained, tmp_path):
    from tfbig.inference import load_run

    run_dir, summary = trained
    check_run_folder(run_dir, summary, ["tokenizer/vocab.txt", "unigram_counts.json"])
    loaded = load_run(run_dir)
    lines = ["The dog", "", "Many young girls eat"]
    greedy = predict_lines(loaded, lines, max_length=3)
    assert any(greedy) and all(len(text.split()) <= 3 for text in greedy)
    predict_lines(loaded, lines, method="beam", beam_size=2, max_length=3)
    sampled = [predict_lines(loaded, lines, method="sample", seed=5, temperature=0.8, top_k=10,
                             max_length=3) for _ in range(2)]
    assert sampled[0] == sampled[1]  # the same seed, the same continuations
    _, rows = check_evaluate(run_dir, summary, tmp_path)
    assert list(rows[0]) == ["text", "tokens", "loss"]


def test_batches_of_texts_decode_as_each_text_alone_with_one_compiled_loop(trained):
    """Five prompts in batches of 2: the last batch is topped up to 2 rows (one compiled
    loop for all three batches), and every continuation is the one the text gets alone."""
    from tfbig.inference import load_run

    task, model = load_run(trained[0])
    prompts = ["The dog", "Many young girls eat", "A man", "", "The old house is"]
    batched = task.predict_texts(model, prompts, max_length=4, batch_size=2)
    (loop,) = model._tfbig_generate_functions.values()
    assert loop.experimental_get_tracing_count() == 1
    alone = [task.predict_texts(model, [prompt], max_length=4)[0] for prompt in prompts]
    assert batched == alone


def test_too_few_windows_for_a_batch_is_a_clear_error(tmp_path):
    from tfbig.runs.fit import train

    # 45 lines pass the line count check, but packed they fill only a few windows of the
    # longest line's length.
    long_line = " ".join(["the dog runs"] * 10) + "\n"
    corpus = write_lines(tmp_path / "corpus.txt", ["dogs run.\n"] * 44 + [long_line])
    config = resolve_config({"task": "lm", "data.path": corpus,
                                 "train.batch_size": 32, "data.validation_split": 0.0,
                                 "data.test_split": 0.0})
    with pytest.raises(TfbigError, match=r"the 45 training lines pack into \d+ windows of \d+ "
                                         r"tokens, fewer than train\.batch_size=32"):
        train(config, str(tmp_path / "run"), verbose=0)
