"""End-to-end training into a run folder: contents, resume, and input errors."""

import csv
import os

import keras
import numpy as np
import pytest
from helpers import float32_tolerance

from tfbig import config as config_lib
from tfbig import run_folder
from tfbig.errors import TfbigError
from tfbig.inference import load_run, run_predictor
from tfbig.runs.fit import train
from tfbig.tasks import resolve_config

pytestmark = pytest.mark.slow

TINY = {"model.preset": "tiny", "train.batch_size": 16, "train.steps_per_epoch": 3,
        "train.epochs": 2, "train.jit_compile": False, "train.warmup_steps": 2}


@pytest.fixture(scope="module")
def dates_file(tmp_path_factory):
    from tfbig.data.samples import date_pairs

    path = tmp_path_factory.mktemp("data") / "dates.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in date_pairs(200, np.random.default_rng(1))),
                    encoding="utf-8")
    return str(path)


def tiny_config(data, **overrides):
    return resolve_config({**TINY, "data.path": data, **overrides})


class StopAtEpoch(keras.callbacks.Callback):
    """Simulates a killed run: raises when ``epoch`` begins."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


class EpochRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def history_epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def finished_run(dates_file, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("finished") / "run")
    # With source-side augmentation on, so that path trains too.
    config = tiny_config(dates_file, **{"data.augment": {"delete_rate": 0.05}})
    return run_dir, train(config, run_dir, verbose=0)


def test_run_folder_has_everything_the_contract_lists(finished_run):
    run_dir, summary = finished_run
    for entry in ("config.json", "model.keras", "history.csv", "metrics.json",
                  "checkpoints/best.weights.h5", "checkpoints/last.weights.h5",
                  "tensorboard", "plots/history.png", "plots/learning_rate.png",
                  "source_tokenizer/vocab.txt", "target_tokenizer/vocab.txt"):
        assert os.path.exists(os.path.join(run_dir, entry)), entry
    assert not os.path.exists(os.path.join(run_dir, "backup"))  # deleted after success
    saved = run_folder.read_json(os.path.join(run_dir, "metrics.json"))
    assert saved == summary
    # The numbers are the saved model's, recomputed here: exact match of its greedy outputs
    # (the targets are ISO dates, which normalisation leaves as they are), and the
    # teacher-forced cross-entropy from its logits, in float64 with numpy.
    task, model = load_run(run_dir)
    splits, _ = task.load_splits()
    vocab_size = task.target_tokenizer.vocab_size
    for split in ("validation", "test"):
        pairs = splits[split]
        predictions = task.predict_texts(model, [source for source, _ in pairs])
        exact = sum(p.strip() == target for p, (_, target) in zip(predictions, pairs))
        assert saved[split]["exact_match"] == exact / len(pairs), split
        nll, tokens, largest = 0.0, 0, 0.0
        for inputs, targets in task.dataset(pairs, training=False):
            logits = np.asarray(model(inputs, training=False), dtype=np.float64)
            targets = np.asarray(targets)
            log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
            picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
            nll, tokens = nll - picked[targets != 0].sum(), tokens + int((targets != 0).sum())
            largest = max(largest, float(np.abs(logits).max()))
        cross_entropy = nll / tokens
        # float32: each token's log-softmax is good to a few ulps of max|logit| + log V, and
        # a row sums up to T such losses in float32 → |Δ cross-entropy| ≤ that bound; the
        # perplexity exp(CE) then has the same relative error.
        tolerance = float32_tolerance(magnitude=largest + np.log(vocab_size),
                                      steps=task.config.data.max_target_length)
        assert saved[split]["cross_entropy"] == pytest.approx(cross_entropy, abs=tolerance)
        assert saved[split]["perplexity"] == pytest.approx(np.exp(cross_entropy), rel=tolerance)
        assert 1.0 < saved[split]["perplexity"] < vocab_size  # trained: beats a uniform guess
    assert saved["train_tokens_per_second"] > 0
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    assert {"tokens_per_second", "learning_rate", "val_bleu"} <= set(header), header
    resolved = config_lib.from_dict(run_folder.read_json(os.path.join(run_dir, "config.json")))
    assert resolved.data.max_source_length > 0 and resolved.data.max_target_length > 0
    assert history_epochs(run_dir) == [0, 1]


def test_interrupted_run_resumes_from_the_last_finished_epoch_with_its_own_config_only(
        dates_file, tmp_path):
    """A run killed at epoch 2 of 4: resuming it with another config is refused (and leaves
    it resumable); the same command continues from epoch 2, not from scratch."""
    run_dir = str(tmp_path / "run")
    # No per-epoch decoding: what is checked is which epochs run.
    overrides = {"train.epochs": 4, "train.epoch_metrics_examples": 0}
    config = tiny_config(dates_file, **overrides)
    with pytest.raises(KeyboardInterrupt):
        train(config, run_dir, callbacks=[StopAtEpoch(2)], verbose=0)
    assert run_folder.run_state(run_dir) == "interrupted"
    assert history_epochs(run_dir) == [0, 1]

    with pytest.raises(TfbigError, match=r"holds an interrupted run with another config "
                                         r"\(model\.d_model: 64 → 32"):
        train(tiny_config(dates_file, **overrides, **{"model.d_model": 32}), run_dir,
              verbose=0)
    assert run_folder.run_state(run_dir) == "interrupted"

    recorder = EpochRecorder()
    train(config, run_dir, callbacks=[recorder], verbose=0)
    assert recorder.epochs == [2, 3]  # continued, not restarted
    assert history_epochs(run_dir) == [0, 1, 2, 3]
    assert run_folder.run_state(run_dir) == "finished"


def test_a_finished_run_is_not_overwritten_without_asking(finished_run, dates_file):
    run_dir, summary = finished_run
    with pytest.raises(TfbigError, match=r"already holds a finished run .*--overwrite"):
        train(tiny_config(dates_file), run_dir, verbose=0)
    assert run_folder.run_state(run_dir) == "finished"  # untouched
    assert run_folder.read_json(os.path.join(run_dir, "metrics.json")) == summary


def test_bad_data_fails_before_the_run_folder_is_created(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("one\tuno\ntwo\tdos\tdrei\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    with pytest.raises(TfbigError, match=r"bad\.tsv:2: expected 2 tab-separated fields"):
        train(tiny_config(str(bad)), str(run_dir), verbose=0)
    assert not run_dir.exists()


def test_a_missing_optional_package_fails_before_any_work(dates_file, tmp_path, monkeypatch):
    import sys

    import tfbig.tasks.translate as translate_task

    def read_nothing(*args, **kwargs):
        raise AssertionError("the data was read before the missing package was noticed")

    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # `import sentencepiece` fails
    monkeypatch.setattr(translate_task.TranslateTask, "load_splits", read_nothing)
    run_dir = tmp_path / "run"
    with pytest.raises(TfbigError, match=r"needs the sentencepiece package, which is not "
                                         r"installed; run: pip install 'tfbig\[sentencepiece\]'"):
        train(tiny_config(dates_file, **{"data.tokenizer": "sentencepiece"}), str(run_dir),
              verbose=0)
    assert not run_dir.exists()


def test_batch_larger_than_the_data_is_a_clear_error(dates_file, tmp_path):
    config = tiny_config(dates_file, **{"train.batch_size": 1000, "train.steps_per_epoch": 0})
    with pytest.raises(TfbigError, match=r"train\.batch_size=1000 is larger than the \d+ "
                                         r"training examples"):
        train(config, str(tmp_path / "run"), verbose=0)


def test_evaluate_on_the_held_out_split_matches_metrics_json(finished_run, tmp_path):
    from tfbig.evaluation.report import evaluate_run

    run_dir, summary = finished_run
    metrics, output_dir = evaluate_run(run_dir, output_dir=str(tmp_path / "eval"))
    assert metrics["data"] == "test"
    for key, value in summary["test"].items():  # numbers within float error; texts exactly
        assert metrics[key] == (value if isinstance(value, str) else
                                pytest.approx(value, rel=1e-5)), key
    for name in ("metrics.json", "predictions.tsv", "worst_examples.tsv",
                 "attention_cross.png"):
        assert os.path.getsize(os.path.join(output_dir, name)) > 0
    with open(os.path.join(output_dir, "predictions.tsv"), encoding="utf-8") as f:
        assert sum(1 for _ in f) == summary["test"]["examples"] + 1  # header + one per example


def test_augmentation_names_are_checked_before_training(dates_file, tmp_path):
    config = tiny_config(dates_file, **{"data.augment": {"delete_rat": 0.1}})
    with pytest.raises(TfbigError, match=r"unknown text augmentation 'delete_rat'; valid keys: "
                                         r"delete_rate"):
        train(config, str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()


def test_attention_maps_of_a_run_have_one_cell_per_query_and_key_token(finished_run, tmp_path,
                                                                      monkeypatch):
    """The figures behind a trained run's attention_*.png: per head, a T_q x T_k image whose
    rows are the first example's query tokens and columns its key tokens, no padding."""
    from tfbig import plots
    from tfbig.evaluation.report import held_out_examples

    run_dir, _ = finished_run
    task, model = load_run(run_dir)
    _, pairs = held_out_examples(task)
    figures = []
    draw = plots.attention_figure

    def recording(weights, query_tokens, key_tokens, title="Attention weights"):
        figures.append((draw(weights, query_tokens, key_tokens, title=title), weights))
        return figures[-1][0]

    monkeypatch.setattr(plots, "attention_figure", recording)
    paths = task.write_plots(model, pairs, str(tmp_path))
    assert [os.path.basename(p) for p in paths] == [
        "attention_encoder.png", "attention_decoder_self.png", "attention_cross.png"]
    assert all(os.path.getsize(p) > 1000 for p in paths)

    data = task.config.data
    source, target = pairs[0]
    vocab_s, vocab_t = task.source_tokenizer.vocabulary, task.target_tokenizer.vocabulary
    source_tokens = [vocab_s[i] for i in task.source_tokenizer.tokenize([source])[0].numpy()]
    target_tokens = [vocab_t[i] for i in task.target_tokenizer.tokenize([target])[0].numpy()]
    source_tokens = source_tokens[:data.max_source_length]
    queries = ["[START]", *target_tokens][:data.max_target_length]
    expected = {"encoder": (source_tokens, source_tokens),
                "decoder self": (queries, queries), "cross": (queries, source_tokens)}
    assert len(figures) == 3
    for (figure, weights), (name, (rows, columns)) in zip(figures, expected.items()):
        assert figure.get_suptitle() == f"{name} attention, last layer"
        panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
        assert len(panels) == task.config.model.num_heads
        for ax in panels:
            assert ax.images[0].get_array().shape == (len(rows), len(columns)), name
            assert [t.get_text() for t in ax.get_yticklabels()] == rows
            assert [t.get_text() for t in ax.get_xticklabels()] == columns
            assert ax.get_xlabel() == "key" and ax.get_ylabel() == "query"
        # Softmax over the real keys only: each row sums to 1 (padding took no weight).
        np.testing.assert_allclose(np.asarray(weights).sum(axis=-1), 1.0, atol=1e-4)
        if name == "decoder self":  # causal: no query looks ahead
            assert np.allclose(np.triu(np.asarray(weights), k=1), 0.0, atol=1e-6)


def test_skip_bad_lines_counts_and_reports_what_it_skipped(dates_file, tmp_path, capsys):
    with open(dates_file, encoding="utf-8") as f:
        good = f.readlines()[:40]
    bad = tmp_path / "bad.tsv"
    bad.write_text("".join(good[:10]) + "no tab here\n" + "".join(good[10:20]) + "x\t \n"
                   + "".join(good[20:]), encoding="utf-8")
    config = tiny_config(str(bad), **{"data.skip_bad_lines": True,  # stop right after reading
                                      "train.batch_size": 1000, "train.steps_per_epoch": 0})
    with pytest.raises(TfbigError, match=r"batch_size=1000 is larger than the \d+ training"):
        train(config, str(tmp_path / "run"), verbose=0)
    assert (f"skipped 2 bad lines; first: {bad}:11: expected 2 tab-separated fields "
            f"(source<TAB>target), found 1; {bad}:22: empty target field"
            in capsys.readouterr().err.splitlines())
    with pytest.raises(TfbigError, match=rf"^{bad}:11: expected 2 tab-separated fields"):
        train(tiny_config(str(bad)), str(tmp_path / "run"), verbose=0)  # without: an error


def test_back_translation_with_a_trained_reverse_run(finished_run, tmp_path):
    """The dates run (words → ISO) is the reverse model of an ISO → words task: it turns
    that task's targets (dates in words) into synthetic sources, one pair per text."""
    from tfbig.data.augment_text import back_translate
    from tfbig.evaluation.report import held_out_examples

    run_dir, _ = finished_run
    task, model = load_run(run_dir)
    _, pairs = held_out_examples(task)
    words = [source for source, _ in pairs[:10]]
    predictor = run_predictor(run_dir)  # one model load for both calls
    synthetic = back_translate(words, predictor, batch_size=4, drop_empty=False)
    assert [target for _, target in synthetic] == words  # every original, in order
    assert [source for source, _ in synthetic] == task.predict_texts(model, words)
    kept = back_translate(words, predictor, batch_size=4)  # no empty ones
    assert kept == [pair for pair in synthetic if pair[0].strip()]
    with pytest.raises(TfbigError, match=r"no such run folder"):
        run_predictor(str(tmp_path / "absent"))
    with pytest.raises(TfbigError, match=r"is not callable; for a run folder pass "
                                         r"tfbig\.inference\.run_predictor\(folder\)"):
        back_translate(words, run_dir)


def test_a_time_budget_run_on_natural_language_uses_the_data_defaults_and_stops_on_time(
        tmp_path, capsys):
    """The real-data path end to end: subwords, token batches, the planned schedule, a
    stop on time (18 s of budget; the slack is one validation and one step), beam search
    and BLEU as the field reports it."""
    from helpers import natural_pairs

    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in natural_pairs(1500)), encoding="utf-8")
    config = resolve_config({"data.path": str(data), "model.preset": "tiny",
                                 "train.time_budget": 0.3, "train.jit_compile": False,
                                 "train.epoch_metrics_examples": 16})
    summary = train(config, str(tmp_path / "run"))
    saved = config_lib.from_dict(run_folder.read_json(str(tmp_path / "run" / "config.json")))
    assert saved.data.tokenizer == "subword" and saved.train.batch_tokens > 0
    assert saved.train.schedule == "planned" and saved.train.final_decode == "beam"
    assert saved.model.d_model == config_lib.PRESETS["tiny"]["d_model"]  # the user's preset
    assert summary["train_seconds"] <= 0.3 * 60 + 8
    assert summary["test"]["decoding"].startswith("beam (4 beams")
    assert summary["test"]["bleu_signature"].startswith("nrefs:1|case:mixed")
    assert 0 <= summary["test"]["bleu"] <= summary["test"]["bleu_lowercase"] <= 100
    err = capsys.readouterr().err
    assert "default from the data: data.tokenizer=subword" in err
    assert "time budget: 18 s → about" in err and "computed after the budget" in err
