"""Matplotlib figures for a run folder's ``plots/``: training curves, schedules, heat maps.

Each ``plot_*`` function takes data and a ``.png`` path, writes the PNG atomically (to a
temporary name in the same folder, then ``os.replace``, so a reader never sees half a file)
and returns the path. The figure it saves comes from the matching ``*_figure`` function,
which returns the :class:`matplotlib.figure.Figure` for a notebook or a test to inspect.

Figures are built with matplotlib's object API on the Agg canvas (``Figure`` +
``FigureCanvasAgg``), never through ``pyplot``: no display is needed, and the backend and
figure list of a user's notebook are left untouched.
"""

import csv
import math
import os
import uuid

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tfbig.errors import TfbigError

DPI = 120  # an 8 x 5 inch figure saves as 960 x 600 pixels
MAX_TOKEN_TICKS = 40  # beyond this many tokens an axis labels every n-th token only
MAX_ANNOTATED_CLASSES = 30  # beyond this many classes confusion cells are too small for text


def _new_figure(width, height):
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)  # attach the Agg canvas: renders to PNG without a GUI
    return figure


def _save(figure, path):
    """Write ``figure`` to ``path`` (.png) atomically and return ``path`` as a str."""
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise TfbigError(f"plot path {path!r} does not end in .png; expected a PNG file name")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        figure.savefig(temporary, format="png", dpi=DPI)
        os.replace(temporary, path)  # atomic on POSIX and Windows within one folder
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


# --- Training history --------------------------------------------------------------------


def _number(cell, where):
    if cell.strip() in ("", "NA", "nan", "NaN"):  # CSVLogger writes NA for a missing value
        return math.nan
    try:
        return float(cell)
    except ValueError:
        raise TfbigError(f"{where} is {cell!r}; expected a number") from None


def _read_history_csv(path):
    """Columns of a Keras ``CSVLogger`` file: header ``epoch,loss,...``, one row per epoch."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = [row for row in csv.reader(file) if row]
    except OSError as error:
        message = f"cannot read history file {path}: {error.strerror}; expected a CSVLogger .csv"
        raise TfbigError(message) from None
    if len(rows) < 2:
        raise TfbigError(f"{path} has no epoch rows; expected a header line and one per epoch")
    header = rows[0]
    columns = {name: [] for name in header}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            message = f"{path}:{line} has {len(row)} fields; expected {len(header)} like the header"
            raise TfbigError(message)
        for name, cell in zip(header, row):
            columns[name].append(_number(cell, f"{path}:{line} column {name!r}"))
    return columns


def _read_history(history):
    """``(epochs, {metric: values})`` from a CSVLogger path, a dict or a ``keras`` History."""
    history = getattr(history, "history", history)  # keras.callbacks.History keeps a dict
    if isinstance(history, dict):
        columns = {}
        for name, values in history.items():
            try:
                columns[str(name)] = [float(value) for value in values]
            except (TypeError, ValueError):
                message = f"history[{name!r}] is {values!r}; expected a list of numbers"
                raise TfbigError(message) from None
    else:
        columns = _read_history_csv(history)
    lengths = sorted({len(values) for values in columns.values()})
    if len(lengths) != 1 or lengths[0] == 0:
        message = f"history columns have lengths {lengths}; expected one value per epoch in each"
        raise TfbigError(message)
    epochs = columns.pop("epoch", None)
    if not columns:
        raise TfbigError("history holds no metric column; expected at least 'loss'")
    # CSVLogger counts epochs from 0; show them from 1, as Keras prints "Epoch 1/10".
    epochs = [e + 1 for e in epochs] if epochs else list(range(1, lengths[0] + 1))
    return epochs, columns


def _base(name):
    """'val_loss' -> 'loss': the metric a validation column measures."""
    return name[len("val_"):] if name.startswith("val_") else name


def _family(name):
    """The panel a metric goes in: 'loss', 'accuracy', 'learning rate' or its own name."""
    base = _base(name)
    if base in ("learning_rate", "lr"):
        return "learning rate"
    if base.endswith("loss"):
        return "loss"
    return "accuracy" if "acc" in base else base


def history_figure(history):
    """Training curves: one panel per metric family, train solid and ``val_`` dashed.

    Args:
        history: a Keras ``CSVLogger`` file path (columns ``epoch, loss, val_loss, ...``,
            maybe ``learning_rate``), a ``{metric: [value per epoch]}`` dict, or the
            ``History`` that ``model.fit`` returns.
    """
    epochs, columns = _read_history(history)
    families = {}
    for name in columns:
        families.setdefault(_family(name), []).append(name)
    order = sorted(families, key=lambda f: (f != "loss", f == "learning rate"))  # stable sort
    cols = min(3, len(order))
    rows = math.ceil(len(order) / cols)
    figure = _new_figure(5.0 * cols, 3.8 * rows + 0.5)
    marker = "o" if len(epochs) <= 30 else None  # a 1-epoch run still shows a point
    for i, family in enumerate(order):
        ax = figure.add_subplot(rows, cols, i + 1)
        bases = dict.fromkeys(_base(name) for name in families[family])  # ordered, no repeats
        for k, base in enumerate(bases):
            color = f"C{k % 10}"  # train and validation of one metric share a colour
            if base in columns:
                ax.plot(epochs, columns[base], color=color, marker=marker, label=f"{base} (train)")
            if "val_" + base in columns:
                ax.plot(epochs, columns["val_" + base], color=color, marker=marker,
                        linestyle="--", label=f"{base} (validation)")
        ax.set_title(family)
        ax.set_xlabel("epoch")
        ax.set_ylabel(family)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("Training history")
    return figure


def plot_history(history, path):
    """Save :func:`history_figure` as a PNG at ``path``; return ``path``."""
    return _save(history_figure(history), path)


# --- Learning-rate schedule --------------------------------------------------------------


def learning_rate_figure(steps, rates):
    """The learning rate against the training step, e.g. warm-up then inverse-sqrt decay."""
    steps, rates = np.asarray(steps, dtype=np.float64), np.asarray(rates, dtype=np.float64)
    if steps.ndim != 1 or steps.shape != rates.shape or steps.size == 0:
        message = f"steps {steps.shape} and rates {rates.shape}; expected equal non-empty 1-D"
        raise TfbigError(message)
    figure = _new_figure(8, 5)
    ax = figure.add_subplot()
    ax.plot(steps, rates, marker="o" if steps.size == 1 else None)
    ax.set_xlabel("training step")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)
    figure.suptitle("Learning-rate schedule")
    return figure


def plot_learning_rate(steps, rates, path):
    """Save :func:`learning_rate_figure` as a PNG at ``path``; return ``path``."""
    return _save(learning_rate_figure(steps, rates), path)


# --- Heat maps -----------------------------------------------------------------------------


def _names(values, name):
    if isinstance(values, str):
        raise TfbigError(f"{name} is the string {values!r}; expected a list, one entry per row")
    return [str(value) for value in values]


def _set_class_ticks(ax, names, axis, slant_above):
    slant = len(names) > slant_above  # slant long rows of names so they do not overlap
    if axis == "x":
        ax.set_xticks(range(len(names)), labels=names, rotation=45 if slant else 0,
                      ha="right" if slant else "center")
    else:
        ax.set_yticks(range(len(names)), labels=names)


def _set_token_ticks(ax, tokens, axis):
    step = max(1, math.ceil(len(tokens) / MAX_TOKEN_TICKS))  # label every step-th token
    positions = list(range(0, len(tokens), step))
    labels = [tokens[i] for i in positions]
    if axis == "x":
        ax.set_xticks(positions, labels=labels, rotation=90, fontsize=8)
    else:
        ax.set_yticks(positions, labels=labels, fontsize=8)


def confusion_matrix_figure(confusion, class_names, normalize=True):
    """Confusion-matrix heat map, rows = true class, columns = predicted class.

    With ``normalize=True`` each row is divided by its sum, so cell (i, j) is the fraction
    of class i predicted as j and the diagonal is each class's recall (an empty row stays
    0). Cells carry their value as text up to ``MAX_ANNOTATED_CLASSES`` classes.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    class_names = _names(class_names, "class_names")
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0:
        message = f"confusion has shape {counts.shape}; expected a non-empty square [C, C] matrix"
        raise TfbigError(message)
    if len(class_names) != len(counts):
        message = f"{len(class_names)} class_names for a {counts.shape} confusion matrix"
        raise TfbigError(f"{message}; expected {len(counts)}")
    totals = counts.sum(axis=1, keepdims=True)  # (C, 1) examples per true class
    values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    values = values if normalize else counts
    vmax = 1.0 if normalize else max(values.max(), 1.0)
    side = float(np.clip(0.5 * len(counts) + 2.5, 5, 16))
    figure = _new_figure(side + 1.0, side)
    ax = figure.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax)
    _set_class_ticks(ax, class_names, "x", slant_above=6)
    _set_class_ticks(ax, class_names, "y", slant_above=6)
    if len(counts) <= MAX_ANNOTATED_CLASSES:
        size = 10 if len(counts) <= 10 else 7
        for (i, j), value in np.ndenumerate(values):  # row i = true, column j = predicted
            text = f"{value:.2f}" if normalize else f"{int(value)}"
            color = "white" if value > vmax / 2 else "black"  # readable on dark cells
            ax.text(j, i, text, ha="center", va="center", fontsize=size, color=color)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    figure.colorbar(image, ax=ax, label="fraction of the true class" if normalize else "examples")
    figure.suptitle("Confusion matrix" + (" (rows normalised)" if normalize else " (counts)"))
    return figure


def plot_confusion_matrix(confusion, class_names, path, normalize=True):
    """Save :func:`confusion_matrix_figure` as a PNG at ``path``; return ``path``."""
    return _save(confusion_matrix_figure(confusion, class_names, normalize=normalize), path)


def attention_figure(weights, query_tokens, key_tokens, title="Attention weights"):
    """A grid of per-head attention heat maps: cell (q, k) = weight of query q on key k.

    Args:
        weights: ``[heads, T_q, T_k]`` or ``[T_q, T_k]`` attention weights of one example
            (for a batch ``[batch, heads, T_q, T_k]``, pass ``weights[0]``).
        query_tokens: T_q tokens, the y-axis labels (rows).
        key_tokens: T_k tokens, the x-axis labels (columns).
        title: the figure title.

    All heads share one colour scale, so their sharpness can be compared.
    """
    weights = np.asarray(weights, dtype=np.float64)
    query_tokens = _names(query_tokens, "query_tokens")
    key_tokens = _names(key_tokens, "key_tokens")
    if weights.ndim not in (2, 3):
        message = f"attention weights have shape {weights.shape}; expected [heads, T_q, T_k]"
        raise TfbigError(f"{message} or [T_q, T_k] (for a batch, pass weights[0])")
    many_heads = weights.ndim == 3
    weights = weights if many_heads else weights[None]  # (heads, T_q, T_k)
    heads, length_q, length_k = weights.shape
    if (length_q, length_k) != (len(query_tokens), len(key_tokens)):
        message = f"attention weights of shape {weights.shape[-2:]} (T_q, T_k) but"
        message += f" {len(query_tokens)} query_tokens and {len(key_tokens)} key_tokens"
        raise TfbigError(f"{message}; expected one token per row and column")
    cols = min(heads, 4)
    rows = math.ceil(heads / cols)
    width = float(np.clip(0.3 * length_k + 1.5, 2.5, 8))
    height = float(np.clip(0.3 * length_q + 1.2, 2.5, 8))
    figure = _new_figure(cols * width + 1.0, rows * height + 0.6)
    low, high = min(0.0, weights.min()), max(weights.max(), 1e-9)
    axes = []
    for head in range(heads):
        ax = figure.add_subplot(rows, cols, head + 1)
        image = ax.imshow(weights[head], cmap="viridis", vmin=low, vmax=high, aspect="auto")
        _set_token_ticks(ax, key_tokens, "x")
        _set_token_ticks(ax, query_tokens, "y")
        ax.set_xlabel("key")
        ax.set_ylabel("query")
        if many_heads:
            ax.set_title(f"head {head + 1}", fontsize=10)
        axes.append(ax)
    figure.colorbar(image, ax=axes, label="attention weight")
    figure.suptitle(title)
    return figure


def plot_attention(weights, query_tokens, key_tokens, path, title="Attention weights"):
    """Save :func:`attention_figure` as a PNG at ``path``; return ``path``."""
    return _save(attention_figure(weights, query_tokens, key_tokens, title=title), path)


def positional_encoding_figure(encoding):
    """Heat map of a ``[length, depth]`` positional encoding: position down, dimension across.

    For the sinusoidal encoding PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) =
    cos(...), the left columns oscillate fast and the right ones slowly.
    """
    encoding = np.asarray(encoding, dtype=np.float64)
    if encoding.ndim != 2 or encoding.size == 0:
        message = f"encoding has shape {encoding.shape}; expected a non-empty [length, depth]"
        raise TfbigError(f"{message} matrix (for [1, length, depth], pass encoding[0])")
    figure = _new_figure(9, 5)
    ax = figure.add_subplot()
    limit = max(float(np.nanmax(np.abs(encoding))), 1e-9)
    image = ax.imshow(encoding, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xlabel("depth (embedding dimension)")
    ax.set_ylabel("position")
    figure.colorbar(image, ax=ax, label="value")
    length, depth = encoding.shape
    figure.suptitle(f"Positional encoding ({length} positions x {depth} dimensions)")
    return figure


def plot_positional_encoding(encoding, path):
    """Save :func:`positional_encoding_figure` as a PNG at ``path``; return ``path``."""
    return _save(positional_encoding_figure(encoding), path)


# --- Per-class scores -------------------------------------------------------------------


def per_class_bars_figure(report):
    """Grouped precision / recall / F1 bars per class, from ``classification_report``'s dict."""
    classes = report.get("classes") if isinstance(report, dict) else None
    if not classes:
        raise TfbigError("report has no 'classes' entry; expected classification_report's dict")
    names = list(classes)
    scores = {"precision", "recall", "f1"}
    if not all(isinstance(classes[name], dict) and scores <= set(classes[name]) for name in names):
        raise TfbigError("report['classes'] lacks precision/recall/f1; expected the report's dict")
    figure = _new_figure(float(np.clip(0.6 * len(names) + 2.5, 6, 20)), 5)
    ax = figure.add_subplot()
    positions = np.arange(len(names))
    for offset, metric in zip((-0.27, 0.0, 0.27), ("precision", "recall", "f1")):
        ax.bar(positions + offset, [classes[n][metric] for n in names], width=0.27, label=metric)
    _set_class_ticks(ax, names, "x", slant_above=8)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("class")
    ax.set_ylabel("score")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    macro = report.get("macro", {}).get("f1")
    title = "Per-class precision, recall and F1"
    figure.suptitle(title if macro is None else f"{title} (macro F1 = {macro:.3f})")
    return figure


def plot_per_class_bars(report, path):
    """Save :func:`per_class_bars_figure` as a PNG at ``path``; return ``path``."""
    return _save(per_class_bars_figure(report), path)


TOKENS_PER_ROW = 12  # token score maps wrap after this many tokens


def token_scores_figure(tokens, panels, title="Token attributions"):
    """Tokens in reading order, wrapped in rows, each cell coloured by its score (red for,
    blue against, a symmetric scale per panel) with the token written in it.

    Args:
        tokens: the n tokens.
        panels: ``{name: [n] scores}``, one heat map each (e.g. integrated gradients and
            the attention rollout from [CLS]), stacked top to bottom.
        title: the figure title.
    """
    tokens = _names(tokens, "tokens")
    panels = {name: np.asarray(scores, dtype=np.float64).reshape(-1)
              for name, scores in panels.items()}
    for name, scores in panels.items():
        if len(tokens) != len(scores) or not tokens:
            raise TfbigError(f"{len(tokens)} tokens but {len(scores)} {name} scores; expected "
                             "one score per token, at least one token")
    rows = math.ceil(len(tokens) / TOKENS_PER_ROW)
    # A fixed grid without a layout engine: constrained layout doubled the save time.
    height = len(panels) * (0.4 * rows + 0.5) + 0.6  # inches
    figure = Figure(figsize=(12, height))
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=1 - 0.6 / height,
                           hspace=0.45)
    for index, (name, scores) in enumerate(panels.items()):
        grid = np.full(rows * TOKENS_PER_ROW, np.nan)
        grid[:len(scores)] = scores
        grid = grid.reshape(rows, TOKENS_PER_ROW)  # (rows, TOKENS_PER_ROW), NaN after the end
        ax = figure.add_subplot(len(panels), 1, index + 1)
        limit = max(float(np.abs(scores).max()), 1e-9)
        ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        for i, (token, score) in enumerate(zip(tokens, scores)):
            dark = abs(score) > 0.6 * limit  # white text on the darkest cells
            ax.text(i % TOKENS_PER_ROW, i // TOKENS_PER_ROW, token, ha="center",
                    va="center", fontsize=8, color="white" if dark else "black")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name} (largest |score| {limit:.3g})", fontsize=9)
    figure.suptitle(title)
    return figure


def plot_token_scores(tokens, panels, path, title="Token attributions"):
    """Save :func:`token_scores_figure` as a PNG at ``path``; return ``path``."""
    return _save(token_scores_figure(tokens, panels, title=title), path)


# --- Architecture comparison ----------------------------------------------------------------

# (row key, panel title; None = the row's metric name)
COMPARISON_PANELS = (("value", None), ("train_seconds", "training seconds"),
                     ("examples_per_second", "inference examples/s"))


def architecture_comparison_figure(rows):
    """Bar charts, one line of three per task: quality, training seconds, inference speed.

    ``rows``: dicts with ``task``, ``model``, ``parameters``, ``metric``, ``value``,
    ``train_seconds`` and ``examples_per_second`` (``benchmarks/compare_architectures.py``
    writes them); each bar is labelled with its model and parameter count.
    """
    if not rows:
        raise TfbigError("no comparison rows to plot; expected at least one trained model")
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    figure = _new_figure(11, 2.6 * len(tasks))
    axes = figure.subplots(len(tasks), len(COMPARISON_PANELS), squeeze=False)
    colours = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")
    for line, task in zip(axes, tasks):
        mine = [row for row in rows if row["task"] == task]
        names = [f"{row['model']}\n{row['parameters'] / 1e6:.2f}M" for row in mine]
        for ax, (key, title) in zip(line, COMPARISON_PANELS):
            values = [float(row[key]) for row in mine]
            ax.bar(names, values, color=[colours[i % len(colours)] for i in range(len(mine))])
            ax.set_title(task, fontsize=9)
            ax.set_ylabel(title or mine[0]["metric"], fontsize=8)
            ax.set_xlabel("model, parameters", fontsize=8)
            for x, value in enumerate(values):
                ax.annotate(f"{value:.3g}", (x, value), ha="center", va="bottom", fontsize=8)
            ax.margins(y=0.15)
    figure.suptitle("Architectures on the same data: quality, training time, inference speed")
    return figure


def plot_architecture_comparison(rows, path):
    """Save :func:`architecture_comparison_figure` as a PNG at ``path``; return ``path``."""
    return _save(architecture_comparison_figure(rows), path)
