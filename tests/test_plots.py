"""Plots: each figure is titled and labelled, shows the data it was given, and saves a real PNG."""

import os
import subprocess
import sys
import types

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from tfbig import plots
from tfbig.errors import TfbigError
from tfbig.scoring.classification import classification_report, confusion_matrix

HISTORY_CSV = """epoch,accuracy,learning_rate,loss,val_accuracy,val_loss
0,0.31,0.001,2.10,0.35,1.90
1,0.55,0.001,1.40,0.52,1.50
2,0.71,0.0005,0.90,NA,1.30
"""  # Keras CSVLogger: columns sorted by name, epochs from 0, "NA" for a missing value


def data_axes(figure):
    return [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]


def assert_titled_and_labelled(figure):
    assert figure.get_suptitle().strip(), "figure has no title"
    assert data_axes(figure), "figure has no axes"
    for ax in data_axes(figure):
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), f"unlabelled axes {ax.get_title()!r}"


def assert_png(path, folder):
    assert os.path.getsize(path) > 1000
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    assert 300 <= pixels.shape[0] <= 4000 and 300 <= pixels.shape[1] <= 4000
    assert sorted(os.listdir(folder)) == [os.path.basename(path)]  # no temporary file left behind


@pytest.fixture
def history_csv(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(HISTORY_CSV)
    return path


def test_history_from_csvlogger(history_csv, tmp_path):
    figure = plots.history_figure(history_csv)
    assert_titled_and_labelled(figure)
    panels = {ax.get_title(): ax for ax in data_axes(figure)}
    assert list(panels) == ["loss", "accuracy", "learning rate"]  # loss first, learning rate last
    train, validation = panels["loss"].get_lines()
    assert list(train.get_xdata()) == [1, 2, 3]  # epochs shown from 1
    np.testing.assert_allclose(validation.get_ydata(), [1.9, 1.5, 1.3])
    assert validation.get_linestyle() == "--" and train.get_color() == validation.get_color()
    assert np.isnan(panels["accuracy"].get_lines()[1].get_ydata()[2])  # "NA" read as a gap

    folder = tmp_path / "plots"  # created on demand
    path = plots.plot_history(history_csv, folder / "history.png")
    assert path == str(folder / "history.png")
    assert_png(path, folder)


def test_history_from_dict_and_keras_history(tmp_path):
    history = {"loss": [1.0, 0.5], "val_loss": [1.2, 0.8], "perplexity": [9.0, 4.0]}
    for source in (history, types.SimpleNamespace(history=history)):  # model.fit's History has .history
        figure = plots.history_figure(source)
        assert_titled_and_labelled(figure)
        assert [ax.get_title() for ax in data_axes(figure)] == ["loss", "perplexity"]
        assert list(data_axes(figure)[0].get_lines()[0].get_xdata()) == [1, 2]


def test_learning_rate(tmp_path):
    steps = np.arange(1, 101)
    rates = 1e-3 * np.minimum(1.0, steps / 10)
    figure = plots.learning_rate_figure(steps, rates)
    assert_titled_and_labelled(figure)
    np.testing.assert_allclose(data_axes(figure)[0].get_lines()[0].get_ydata(), rates)
    assert_png(plots.plot_learning_rate(steps, rates, tmp_path / "lr.png"), tmp_path)


def test_confusion_matrix_normalised_and_annotated(tmp_path):
    confusion = confusion_matrix([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 0], num_classes=4)
    names = ["cat", "dog", "bird", "fish"]
    figure = plots.confusion_matrix_figure(confusion, names)
    assert_titled_and_labelled(figure)
    ax = data_axes(figure)[0]
    shown = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shown[:3].sum(axis=1), 1.0)  # each non-empty row sums to 1
    np.testing.assert_array_equal(shown[3], 0.0)  # "fish" has no example: row stays 0
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 16 and texts[:2] == ["0.50", "0.50"]
    assert [t.get_text() for t in ax.get_xticklabels()] == names

    counts = plots.confusion_matrix_figure(confusion, names, normalize=False)
    assert [t.get_text() for t in data_axes(counts)[0].texts][:2] == ["1", "1"]
    assert_png(plots.plot_confusion_matrix(confusion, names, tmp_path / "cm.png"), tmp_path)


def test_attention_has_one_cell_per_query_and_key_token(tmp_path):
    query, key = ["<s>", "le", "chat"], ["the", "cat", "sat", "</s>"]
    weights = np.random.default_rng(0).dirichlet(np.ones(4), size=(2, 3))  # (heads=2, Tq=3, Tk=4)
    figure = plots.attention_figure(weights, query, key, title="Decoder cross-attention")
    assert_titled_and_labelled(figure)
    assert figure.get_suptitle() == "Decoder cross-attention"
    panels = data_axes(figure)
    assert len(panels) == 2
    for head, ax in enumerate(panels):
        np.testing.assert_allclose(ax.images[0].get_array(), weights[head])  # exactly Tq x Tk cells
        assert [t.get_text() for t in ax.get_xticklabels()] == key
        assert [t.get_text() for t in ax.get_yticklabels()] == query

    single = plots.attention_figure(weights[0], query, key)  # [Tq, Tk]: one panel
    assert [ax.images[0].get_array().shape for ax in data_axes(single)] == [(3, 4)]
    assert_png(plots.plot_attention(weights, query, key, tmp_path / "attention.png"), tmp_path)


def test_positional_encoding(tmp_path):
    position = np.arange(20)[:, None]
    dimension = np.arange(16)[None, :]
    angle = position / 10000 ** ((dimension // 2 * 2) / 16)
    encoding = np.where(dimension % 2 == 0, np.sin(angle), np.cos(angle))  # (length 20, depth 16)
    figure = plots.positional_encoding_figure(encoding)
    assert_titled_and_labelled(figure)
    ax = data_axes(figure)[0]
    assert ax.images[0].get_array().shape == (20, 16)
    assert "position" in ax.get_ylabel() and "depth" in ax.get_xlabel()
    assert_png(plots.plot_positional_encoding(encoding, tmp_path / "pe.png"), tmp_path)


def test_per_class_bars(tmp_path):
    report = classification_report([0, 0, 1, 2], [0, 1, 1, 1], class_names=["a", "b", "c"])
    figure = plots.per_class_bars_figure(report)
    assert_titled_and_labelled(figure)
    ax = data_axes(figure)[0]
    heights = [bar.get_height() for bar in ax.patches]
    expected = [report["classes"][n][m] for m in ("precision", "recall", "f1") for n in "abc"]
    np.testing.assert_allclose(heights, expected)
    assert_png(plots.plot_per_class_bars(report, tmp_path / "bars.png"), tmp_path)


def test_architecture_comparison_has_a_line_per_task_and_a_bar_per_model(tmp_path):
    rows = [{"task": task, "model": model, "parameters": 500_000 + i, "metric": "accuracy",
             "value": 0.5 + i / 10, "train_seconds": 10.0 * (i + 1),
             "examples_per_second": 100.0 / (i + 1)}
            for task, models in (("classify", ("bert", "rnn", "cnn")), ("audio", ("cnn", "transformer")))
            for i, model in enumerate(models)]
    figure = plots.architecture_comparison_figure(rows)
    assert_titled_and_labelled(figure)
    axes = data_axes(figure)
    assert len(axes) == 2 * 3  # two tasks × (quality, training time, inference speed)
    assert [len(ax.patches) for ax in axes] == [3, 3, 3, 2, 2, 2]
    assert [bar.get_height() for bar in axes[1].patches] == [10.0, 20.0, 30.0]
    assert [tick.get_text() for tick in axes[3].get_xticklabels()] == ["cnn\n0.50M", "transformer\n0.50M"]
    path = plots.plot_architecture_comparison(rows, tmp_path / "architectures.png")
    assert_png(path, tmp_path)
    with pytest.raises(TfbigError, match="no comparison rows to plot"):
        plots.architecture_comparison_figure([])


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "lr.png"
    path.write_bytes(b"old")

    def broken_savefig(self, *args, **kwargs):
        open(args[0], "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plots.plot_learning_rate([0, 1], [1e-3, 1e-3], path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["lr.png"]


def test_pyplot_is_never_imported(tmp_path):
    """Plots must not switch the backend or open figures in a user's notebook."""
    code = ("import sys, tfbig.plots as p; p.plot_learning_rate([0, 1], [1, 2], sys.argv[1]);"
            " print('matplotlib.pyplot' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "lr.png")], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize("call, message", [
    (lambda: plots.plot_learning_rate([0], [1.0], "lr.jpg"), r"'lr.jpg' does not end in .png"),
    (lambda: plots.learning_rate_figure([0, 1], [1.0]), r"steps \(2,\) and rates \(1,\); expected equal"),
    (lambda: plots.history_figure("missing.csv"), r"cannot read history file missing.csv"),
    (lambda: plots.history_figure({"loss": [1.0, 2.0], "val_loss": [1.0]}), r"lengths \[1, 2\]"),
    (lambda: plots.history_figure({"epoch": [0, 1]}), r"no metric column"),
    (lambda: plots.history_figure({"loss": None}), r"history\['loss'\] is None"),
    (lambda: plots.confusion_matrix_figure([[1, 2, 3]], ["a"]), r"shape \(1, 3\); expected a non-empty square"),
    (lambda: plots.confusion_matrix_figure(np.eye(2), ["a"]), r"1 class_names for a \(2, 2\) confusion"),
    (lambda: plots.attention_figure(np.ones((2, 3)), ["a"], ["x", "y", "z"]),
     r"shape \(2, 3\) \(T_q, T_k\) but 1 query_tokens and 3 key_tokens"),
    (lambda: plots.attention_figure(np.ones((1, 2, 3, 3)), ["a"] * 3, ["b"] * 3), r"pass weights\[0\]"),
    (lambda: plots.attention_figure(np.ones((2, 2)), "ab", ["x", "y"]), r"query_tokens is the string 'ab'"),
    (lambda: plots.positional_encoding_figure(np.ones((1, 4, 8))), r"shape \(1, 4, 8\); expected a non-empty"),
    (lambda: plots.per_class_bars_figure({"accuracy": 1.0}), r"report has no 'classes' entry"),
    (lambda: plots.per_class_bars_figure({"classes": {"a": 0.5}}), r"lacks precision/recall/f1"),
])
def test_errors_say_what_was_received(call, message):
    with pytest.raises(TfbigError, match=message):
        call()


@pytest.mark.parametrize("content, message", [
    ("", r"no epoch rows"),
    ("epoch,loss\n0,1.0\n1,oops\n", r"history.csv:3 column 'loss' is 'oops'; expected a number"),
    ("epoch,loss\n0,1.0,2.0\n", r"history.csv:2 has 3 fields; expected 2 like the header"),
])
def test_bad_history_csv_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "history.csv"
    path.write_text(content)
    with pytest.raises(TfbigError, match=message):
        plots.history_figure(path)
