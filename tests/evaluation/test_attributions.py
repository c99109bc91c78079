"""Interpretability: integrated gradients are complete and find the token that decides a
toy label, attention rollout matches a NumPy reference, ``evaluate`` writes the heat maps
and the HTML page, and ``predict --explain`` prints the tokens behind each label."""

import json
import os
import re

import numpy as np
import pytest
from tasks.task_checks import sample_lines, train_run, write_lines

from tfbig import cli, predict
from tfbig.errors import TfbigError
from tfbig.evaluation.attention_rollout import attention_rollout, classifier_rollout
from tfbig.evaluation.attributions import integrated_gradients, trapezoid_weights
from tfbig.models.build import build_model

SIZES = {"bert": dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
                      max_sequence_length=16),
         "rnn": dict(embedding_dim=8, units=8),
         "cnn": dict(embedding_dim=8, filters=8)}
# Completeness error allowed, relative to |F(x) - F(x')|, at 32 trapezoid steps: the smooth
# models (BERT, LSTM) integrate to ~1e-4; the CNN's ReLU kinks cost more (~2e-2 measured).
TOLERANCE = {"bert": 1e-3, "rnn": 1e-3, "cnn": 5e-2}
EXAMPLE = {"token_ids": np.array([4, 9, 5, 7, 12, 0, 0], "int32"),
           "padding_mask": np.array([1, 1, 1, 1, 1, 0, 0], bool)}


def tiny(name, seed=0, vocabulary_size=30, num_classes=3):
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(name, vocabulary_size=vocabulary_size, num_classes=num_classes,
                        dropout=0.0, **SIZES[name])
    model({key: value[None] for key, value in EXAMPLE.items()})
    return model


@pytest.mark.parametrize("name", ["bert", "rnn", "cnn"])
def test_attributions_sum_to_the_logit_difference_from_the_baseline(name):
    model = tiny(name)
    result = integrated_gradients(model, EXAMPLE, steps=32)
    difference = result.logit - result.baseline_logit
    assert result.completeness_error <= TOLERANCE[name] * abs(difference) + 1e-6, (
        name, result.completeness_error, difference)
    assert result.target == int(np.argmax(result.logits))
    assert np.all(result.attributions[~EXAMPLE["padding_mask"]] == 0)  # padding: baseline
    # The baseline keeps unattributed positions: only [CLS]-like position 0 left out here.
    keep = integrated_gradients(model, EXAMPLE, steps=32, attribute=[0, 1, 1, 1, 1, 0, 0])
    assert keep.attributions[0] == 0 and keep.completeness_error <= TOLERANCE[name] * abs(
        keep.logit - keep.baseline_logit) + 1e-6


def test_trapezoid_weights_and_a_bad_step_count():
    assert trapezoid_weights(4).tolist() == [0.125, 0.25, 0.25, 0.25, 0.125]
    with pytest.raises(TfbigError, match="steps must be >= 1, received 0"):
        trapezoid_weights(0)


@pytest.mark.slow
def test_the_token_that_decides_a_toy_label_gets_the_largest_attribution():
    """Label 1 iff token 3 occurs among random tokens 4..19: after a little training the
    CNN's attributions for label 1 single token 3 out."""
    import keras

    rng = np.random.default_rng(0)
    ids = rng.integers(4, 20, size=(512, 8)).astype("int32")
    labels = rng.integers(0, 2, size=512)
    ids[labels == 1, rng.integers(0, 8, size=int(labels.sum()))] = 3
    mask = np.ones_like(ids, bool)
    model = tiny("cnn", vocabulary_size=20, num_classes=2)
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit({"token_ids": ids, "padding_mask": mask}, labels, epochs=8, batch_size=64,
              verbose=0)
    hits = 0
    for row in np.flatnonzero(labels == 1)[:10]:
        result = integrated_gradients(
            model, {"token_ids": ids[row], "padding_mask": mask[row]}, target=1, steps=32)
        hits += ids[row][np.argmax(result.attributions)] == 3
    assert hits >= 9, hits


def numpy_rollout(maps):
    """The paper's recipe written out: mean over heads, 0.5 A + 0.5 I, rows to 1, product."""
    result = np.eye(maps[0].shape[-1])
    for attention in maps:
        a = 0.5 * attention.mean(axis=0) + 0.5 * np.eye(attention.shape[-1])
        a = a / a.sum(axis=-1, keepdims=True)
        result = a @ result
    return result


def test_rollout_matches_numpy_on_random_maps_and_a_tiny_bert():
    rng = np.random.default_rng(1)
    maps = [rng.dirichlet(np.ones(5), size=(3, 5)) for _ in range(3)]  # (heads, T, T)
    np.testing.assert_allclose(attention_rollout(maps), numpy_rollout(maps), atol=1e-12)
    np.testing.assert_allclose(attention_rollout(maps).sum(axis=-1), 1.0, atol=1e-12)

    model = tiny("bert")
    n = int(EXAMPLE["padding_mask"].sum())
    weights = [np.asarray(w)[0] for w in model.encoder.attention_scores(
        {key: value[None] for key, value in EXAMPLE.items()})]
    assert len(weights) == 2 and weights[0].shape == (2, 7, 7)
    np.testing.assert_allclose(weights[0][:, :n, n:], 0.0, atol=1e-7)  # padding unseen
    np.testing.assert_allclose(classifier_rollout(model, EXAMPLE),
                               numpy_rollout([w[:, :n, :n] for w in weights]), atol=1e-6)
    assert classifier_rollout(tiny("cnn"), EXAMPLE) is None  # no attention maps


def test_rollout_refuses_a_batch_and_no_layers():
    with pytest.raises(TfbigError, match=r"shape \(1, 2, 3, 3\); expected \[heads, T, T\]"):
        attention_rollout([np.ones((1, 2, 3, 3))])
    with pytest.raises(TfbigError, match="at least one layer"):
        attention_rollout([])


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    data = write_lines(tmp_path_factory.mktemp("data") / "reviews.tsv",
                       sample_lines("reviews.tsv", 150))
    run_dir, _ = train_run(tmp_path_factory, **{
        "task": "classify", "model.name": "bert", "data.path": data, "train.epochs": 1,
        "train.steps_per_epoch": 3})
    return run_dir


@pytest.mark.slow
def test_evaluate_writes_attribution_and_rollout_heat_maps_and_a_page(classify_run, tmp_path):
    from tfbig.evaluation.report import evaluate_run

    _, output_dir = evaluate_run(classify_run, output_dir=str(tmp_path / "eval"))
    names = sorted(os.listdir(os.path.join(output_dir, "explanations")))
    assert names == sorted(f"example_{i}.png" for i in range(8))
    page = (tmp_path / "eval" / "explanations.html").read_text(encoding="utf-8")
    assert page.count("<h2>Example") == 8 and "attention rollout from [CLS]" in page
    assert "<script" not in page and "src=" not in page  # self-contained
    errors = [float(e) for e in re.findall(r"completeness error ([0-9.e+-]+)\)", page)]
    assert len(errors) == 8 and max(errors) < 1e-3, errors


@pytest.mark.slow
def test_predict_explain_prints_each_label_and_its_top_tokens(classify_run, tmp_path,
                                                             capsys):
    lines = tmp_path / "lines.txt"
    lines.write_text("I love the battery.\n\nThe lid is not sturdy.\n", encoding="utf-8")
    assert cli.run(predict.main, ["--run", classify_run, "--input", str(lines),
                                  "--explain"]) == 0
    out = capsys.readouterr().out.splitlines()
    with open(os.path.join(classify_run, "labels.json"), encoding="utf-8") as f:
        labels = json.load(f)
    assert len(out) == 3 and out[1] == ""  # a blank line is answered blank
    for line in (out[0], out[2]):
        label, top = line.split("\t")
        assert label in labels
        pairs = top.split(", ")
        assert 1 <= len(pairs) <= 5 and all(re.fullmatch(r"\S+ [+-]\d\.\d\d", p)
                                            for p in pairs), line
        scores = [float(p.rsplit(" ", 1)[1]) for p in pairs]
        assert scores == sorted(scores, reverse=True)


def test_predict_explain_is_a_usage_error_for_a_translate_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"task": "translate"}), encoding="utf-8")
    (run_dir / "model.keras").write_bytes(b"")
    assert cli.run(predict.main, ["--run", str(run_dir), "--explain"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.fullmatch(
        r"error: --explain works for classify runs only; .* is a 'translate' run "
        r"\(drop --explain\)", err[0]), err


def test_token_scores_figure_has_a_panel_per_score_row_and_checks_lengths(tmp_path):
    from tfbig import plots

    figure = plots.token_scores_figure(["[CLS]", "good", "[SEP]"],
                                       {"ig": [0.0, 0.4, 0.0], "rollout": [0.6, 0.3, 0.1]})
    assert len(figure.axes) == 2
    assert os.path.getsize(plots.plot_token_scores(["a"], {"ig": [1.0]},
                                                   tmp_path / "a.png")) > 0
    with pytest.raises(TfbigError, match="2 tokens but 1 ig scores; expected one score per"):
        plots.token_scores_figure(["a", "b"], {"ig": [1.0]})
