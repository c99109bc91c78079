"""Epoch-end task metrics: macro F1 over the whole validation split (checked against a
hand computation and metrics.json), BLEU/chrF of decoded outputs in a translate run's
history, and the config's metric tables kept in step with the tasks."""

import csv
import os

import numpy as np
import pytest

from tfbig import config as config_lib
from tfbig import run_folder
from tfbig.inference import load_run
from tfbig.runs.fit import train
from tfbig.tasks import resolve_config

pytestmark = pytest.mark.slow

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data")
# No test split: every check here is on the validation split, and a test split's final
# metrics (a translate run decodes it) only cost time.
TINY = {"model.preset": "tiny", "train.batch_size": 16, "train.steps_per_epoch": 3,
        "train.epochs": 2, "train.jit_compile": False, "train.warmup_steps": 2,
        "data.test_split": 0.0}


def history_rows(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return list(csv.DictReader(f))


def head_of(name, lines, tmp_path_factory):
    """The first ``lines`` lines of a shipped data file, as a small file of its own."""
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        text = "".join(next(f) for _ in range(lines))
    path = tmp_path_factory.mktemp("data") / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    data = head_of("reviews.tsv", 400, tmp_path_factory)
    run_dir = str(tmp_path_factory.mktemp("classify") / "run")
    config = resolve_config({**TINY, "task": "classify", "data.path": data,
                                 "data.vocab_size": 300, "train.monitor": "val_macro_f1",
                                 "train.learning_rate": 3e-3})
    return run_dir, train(config, run_dir, verbose=0)


@pytest.fixture(scope="module")
def translate_run(tmp_path_factory):
    data = head_of("dates.tsv", 300, tmp_path_factory)
    run_dir = str(tmp_path_factory.mktemp("translate") / "run")
    # Also the plateau schedule through the real training entry, cutting on val_bleu.
    config = resolve_config({**TINY, "data.path": data, "train.monitor": "val_bleu",
                                 "train.epoch_metrics_examples": 16, "train.epochs": 3,
                                 "train.schedule": "plateau", "train.plateau_patience": 1})
    return run_dir, train(config, run_dir, verbose=0)


def macro_f1_by_hand(confusion):
    """Per class 2·TP / (2·TP + FP + FN), 0 where undefined; then the plain mean."""
    confusion = np.asarray(confusion, dtype=float)
    scores = []
    for c in range(len(confusion)):
        tp = confusion[c, c]
        fp = confusion[:, c].sum() - tp
        fn = confusion[c, :].sum() - tp
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / len(scores)


def test_macro_f1_is_over_the_whole_validation_split(classify_run):
    run_dir, summary = classify_run
    rows = history_rows(run_dir)
    assert [int(row["epoch"]) for row in rows] == [0, 1]
    # The last epoch's model is the saved one: its predictions on the validation split give
    # the last row's macro scores, counted here with numpy alone.
    task, model = load_run(run_dir)
    splits, _ = task.load_splits()
    y_true = np.array([task.label_ids[label] for _, label in splits["validation"]])
    y_pred = task.logits(model, splits["validation"]).argmax(axis=-1)
    counts = np.zeros((len(task.labels), len(task.labels)))
    np.add.at(counts, (y_true, y_pred), 1)
    tp = np.diag(counts)
    with np.errstate(invalid="ignore"):  # a class never predicted (or absent) scores 0
        precision = np.nan_to_num(tp / counts.sum(axis=0))
        recall = np.nan_to_num(tp / counts.sum(axis=1))
        f1 = np.nan_to_num(2 * tp / (counts.sum(axis=0) + counts.sum(axis=1)))
    # Ratios of counts, computed in float64 both ways: equal up to a few float64 ulps.
    for name, values in (("macro_precision", precision), ("macro_recall", recall),
                         ("macro_f1", f1)):
        assert float(rows[-1]["val_" + name]) == pytest.approx(values.mean(), abs=1e-12), name
    # The last epoch's model is the final model: its epoch-end F1 is the F1 of the whole
    # validation split, the same number final_metrics puts in metrics.json …
    validation = summary["validation"]
    last = float(rows[-1]["val_macro_f1"])
    assert last == pytest.approx(validation["macro_f1"], abs=1e-6)
    # … and the one computed by hand from that split's confusion matrix.
    confusion = validation["confusion_matrix"]
    assert np.sum(confusion) == validation["examples"]
    assert last == pytest.approx(macro_f1_by_hand(confusion), abs=1e-6)
    assert summary["epoch_metrics_seconds"] >= 0


def test_translate_history_has_bleu_and_it_can_be_the_monitor(translate_run):
    import sacrebleu

    run_dir, summary = translate_run
    rows = history_rows(run_dir)
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    # The last epoch's model is the saved one: greedy-decode the 16 validation pairs the
    # epoch-end scorer decodes and score them with sacrebleu directly. (The targets are
    # ISO dates, which the target tokenizer's normalisation leaves as they are.)
    task, model = load_run(run_dir)
    splits, _ = task.load_splits()
    pairs = splits["validation"][:16]
    predictions = task.predict_texts(model, [source for source, _ in pairs])
    references = [target for _, target in pairs]
    expected = {"bleu": sacrebleu.corpus_bleu(predictions, [references]).score,
                "chrf": sacrebleu.corpus_chrf(predictions, [references]).score,
                "exact_match": np.mean([p.strip() == r for p, r in zip(predictions, references)])}
    assert expected["chrf"] > 0  # not two trivial zeros compared
    for name, value in expected.items():  # float64 scores, stored with repr: exact
        assert float(rows[-1]["val_" + name]) == pytest.approx(value, abs=1e-12), name
    assert os.path.exists(os.path.join(run_dir, "checkpoints", "best.weights.h5"))
    saved = config_lib.from_dict(run_folder.read_json(os.path.join(run_dir, "config.json")))
    assert saved.train.monitor == "val_bleu"


def test_plateau_run_cuts_the_rate_when_bleu_stalls(translate_run):
    run_dir, _ = translate_run
    rows = history_rows(run_dir)
    bleu = [float(row["val_bleu"]) for row in rows]
    rates = [float(row["learning_rate"]) for row in rows]
    assert rates[0] == pytest.approx(1e-3)  # warm-up (2 steps) done within epoch 0
    best = bleu[0]
    for epoch in range(1, len(rows) - 1):  # patience 1: every stalled epoch cuts by half
        improved = bleu[epoch] > best + 1e-4
        best = max(best, bleu[epoch])
        assert rates[epoch + 1] == pytest.approx(rates[epoch] * (1.0 if improved else 0.5))
    assert os.path.getsize(os.path.join(run_dir, "plots", "learning_rate.png")) > 0
    assert not os.path.exists(os.path.join(run_dir, "backup"))  # state file went with it


def test_translation_scorer_matches_final_metrics(translate_run):
    from tfbig.training.task_metrics import TranslationScorer

    run_dir, _ = translate_run
    task, model = load_run(run_dir)
    splits, _ = task.load_splits()
    scorer = TranslationScorer(task, splits["validation"], max_examples=16)
    scores = scorer(model)
    expected, _ = task.final_metrics(model, splits["validation"][:16])
    for name in ("bleu", "chrf", "exact_match"):
        assert scores[name] == pytest.approx(expected[name]), name


def test_each_task_names_the_metrics_it_logs(classify_run, translate_run):
    """A task's ``keras_metrics`` are what its compiled metrics log, and its
    ``epoch_metrics`` what its ``epoch_scorer`` adds (train.monitor is checked against
    both): a real run's history holds exactly those columns."""
    from tfbig.tasks import AVAILABLE, get_task

    for name in AVAILABLE:
        task = get_task(resolve_config({"task": name}))
        _, metrics = task.loss_and_metrics()
        logged = ("val_loss", *(f"val_{metric.name}" for metric in metrics))
        assert task.keras_metrics == logged, name
        assert task.monitor[0] in logged and task.monitor[1] == config_lib.monitor_mode(
            task.monitor[0]), name
        if not task.epoch_metrics:
            assert task.epoch_scorer([("a", "b")], max_examples=1) is None, name
    for run_dir, _ in (classify_run, translate_run):
        task, _ = load_run(run_dir)
        columns = {column for column in history_rows(run_dir)[0] if column.startswith("val_")}
        assert columns == set(task.monitorable(task.config)), task.name


def test_no_callback_when_off_or_not_applicable():
    from tfbig.tasks import get_task
    from tfbig.training.task_metrics import task_metrics_callback

    classify = get_task(resolve_config({"task": "classify"}))
    assert task_metrics_callback(classify, [("text", "label")], 0) is None
    mlm = get_task(resolve_config({"task": "mlm"}))
    assert task_metrics_callback(mlm, ["a line"], 256) is None
