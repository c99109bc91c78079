"""tfbig's defaults vs a tutorial-style Transformer on real data: same time budget, same machine.

    python benchmarks/real_data_translation.py \\
        --train ../shared/data/multi30k-en-fr/train.tsv \\
        --val ../shared/data/multi30k-en-fr/val.tsv \\
        --test ../shared/data/multi30k-en-fr/test_2016_flickr.tsv \\
        --minutes 25 --output /tmp/real-data [--which baseline|tfbig|both] [--seed 0]
    python benchmarks/real_data_translation.py --train T.tsv --vocab-only   # vocab sizes only

Data: ``source<TAB>target`` lines, cased and punctuated (Multi30k en→fr above). The two
systems run one after the other in the same invocation (never at the same time), each
training for ``--minutes`` of wall time, then greedy-decoding the test sources.

**Baseline** — the recipe of TensorFlow's tutorial "Neural machine translation with a
Transformer and Keras" (https://www.tensorflow.org/text/tutorials/transformer, with its
tokenizer from https://www.tensorflow.org/text/guide/subwords_tokenizer), in this process:

* WordPiece vocabularies learnt per side by ``bert_vocab_from_dataset`` with the tutorial's
  arguments (vocab_size 8000, reserved [PAD] [UNK] [START] [END], ``lower_case=True``,
  default ``learn_params``: its lower_thresh of 10 occurrences makes the vocabularies far
  smaller than 8000 on a corpus this size; the sizes are reported);
  ``tensorflow_text.BertTokenizer(vocab, lower_case=True)``, [START]/[END] added, sources cut
  to 128 tokens and targets to 128 + 1 as the tutorial's ``prepare_batch`` does.
  NB: BERT's ``lower_case=True`` also strips accents, so the baseline writes French without
  them (é → e); ``bleu_lowercase_no_accents`` (both sides lower-cased and accent-stripped)
  shows how much of the gap that alone explains.
* Length bucketing (``bucket_by_sequence_length`` on max(source, target) length, batches of
  64 sentences, the tutorial's batch size), shuffled each epoch with ``--seed``.
* ``baseline_tutorial.build``: 3 encoder + 3 decoder layers, d_model 256, dff 512, 8 heads,
  dropout 0.1; masked cross-entropy with label smoothing 0.1 (``masked_loss_smoothed``);
  Adam(``CustomSchedule(256)``: warm-up 4000 then 1/√step, β 0.9/0.98, ε 1e-9).
* XLA or not: the tutorial compiles with ``jit_compile=True``. Both are timed for 30
  training steps on the same 30 bucketed batches, padded to the bucket boundaries (so XLA
  sees one shape per bucket) and drawn alternately from the two most common buckets (two
  shapes: XLA's compile time for a new shape is measured, without compiling every bucket
  in the check). Training uses whichever is projected to run more steps in the budget:
  steady step time, first step, and XLA's compile time for each further shape training
  will meet all count. Without XLA, batches are then padded to their own longest sentence
  only. ``--xla on|off`` skips the check.
* ``model.fit`` stops at the first batch end (or epoch end) past ``--minutes`` of wall time
  counted from the start of ``fit``: tracing/compilation and the per-epoch validation loss on
  ``--val`` count inside the budget.
* Test: the tutorial's greedy ``Translator`` (whole model re-run on the growing output),
  batched 64 sentences at a time (sorted by length), max 128 new tokens, stopping once
  every sentence of the batch has produced [END] (the tutorial stops at [END]).
  Detokenised as the tutorial does (``BertTokenizer.detokenize``, reserved tokens dropped,
  words joined with spaces), then a formatting cleanup so the baseline is not penalised for
  how BERT tokenisation splits punctuation (``fair_cleanup``): no space before
  ``, . ! ? ; : )``, none after ``(``, and ``'`` ``’`` ``-`` lose the spaces on both sides
  when they join two letters/digits (``l ' homme`` → ``l'homme``, ``t - shirt`` →
  ``t-shirt``; the references write them so: ~490 apostrophes and ~120 hyphens inside words
  in test_2016_flickr's 1,000 French lines).

**tfbig** — its command line, as a user runs it, in subprocesses (from the repository root)::

    python -m tfbig.train --task translate --data TRAIN --val-data VAL \\
        --time-budget MINUTES --output DIR/tfbig --seed SEED --overwrite
    python -m tfbig.evaluate --run DIR/tfbig --data TEST

with its default model, tokenizer, schedule and decoding; the scores are read from
``DIR/tfbig/eval/metrics.json``. A failing subprocess is reported (its log is kept in DIR)
and the baseline's results are still written.

Scores: sacrebleu corpus BLEU on the raw test references, lower-cased (``lowercase=True``:
the tutorial-style number) and cased, and chrF; the baseline's signatures are recorded.
Printed: a side-by-side table (Markdown) with tfbig/baseline ratios; written:
``DIR/results.json`` (merged with an existing one, so ``--which`` runs can be combined),
``DIR/baseline/`` (vocabularies, test predictions), ``DIR/tfbig*.log``. Progress goes to
stderr.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
import unicodedata
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

# The baseline gets the CPU kernels tfbig's CLI gets (oneDNN; see docs/benchmarks.md), so
# the comparison is of recipes, not kernel libraries. Must come before TensorFlow loads.
from tfbig.cpu_kernels import prefer_onednn  # noqa: E402  (imports no TensorFlow)

prefer_onednn()

RESERVED_TOKENS = ["[PAD]", "[UNK]", "[START]", "[END]"]
PAD_ID, START_ID, END_ID = 0, 2, 3
BERT_TOKENIZER_PARAMS = dict(lower_case=True)  # the tutorial's
VOCAB_SIZE = 8000  # the tutorial's target; its default lower_thresh cuts it on small corpora
MAX_TOKENS = 128  # the tutorial's MAX_TOKENS
BATCH_SIZE = 64  # the tutorial's BATCH_SIZE
# Buckets on max(source, target) length with [START]/[END]; the last boundary is above
# 128 + 1 so every (capped) pair fits (needed by pad_to_bucket_boundary).
BUCKET_BOUNDARIES = [12, 16, 20, 24, 28, 32, 40, 48, 64, 130]
MODEL = dict(num_layers=3, d_model=256, num_heads=8, dff=512, dropout_rate=0.1)
LABEL_SMOOTHING = 0.1
XLA_CHECK_STEPS = 30

STARTED = time.perf_counter()


def log(message):
    print(f"[{(time.perf_counter() - STARTED) / 60:5.1f} min] {message}", file=sys.stderr,
          flush=True)


def read_pairs(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                sys.exit(f"error: {path}:{number}: expected source<TAB>target, "
                         f"got {len(parts)} field(s)")
            pairs.append((parts[0], parts[1]))
    return pairs


# --------------------------------------------------------------------------- text handling
_SPACE_BEFORE = re.compile(r" +([,.!?;:)])")
_SPACE_AFTER = re.compile(r"([(]) +")
_IN_WORD = re.compile(r"(?<=[^\W_]) *(['’-]) *(?=[^\W_])")


def fair_cleanup(text):
    """Undo BERT tokenisation's spacing of punctuation (see the module docstring)."""
    text = _SPACE_BEFORE.sub(r"\1", text)
    text = _SPACE_AFTER.sub(r"\1", text)
    return _IN_WORD.sub(r"\1", text)


def strip_accents(text):
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if unicodedata.category(c) != "Mn")


def score(hypotheses, references):
    """sacrebleu corpus scores (0–100) and signatures."""
    from sacrebleu.metrics import BLEU, CHRF

    bleu_lower, bleu_cased, chrf = BLEU(lowercase=True), BLEU(), CHRF()
    no_accents = [strip_accents(text) for text in hypotheses]
    return {
        "bleu_lowercase": round(bleu_lower.corpus_score(hypotheses, [references]).score, 2),
        "bleu": round(bleu_cased.corpus_score(hypotheses, [references]).score, 2),
        "chrf": round(chrf.corpus_score(hypotheses, [references]).score, 2),
        "bleu_lowercase_no_accents": round(bleu_lower.corpus_score(
            no_accents, [[strip_accents(text) for text in references]]).score, 2),
        "bleu_lowercase_signature": str(bleu_lower.get_signature()),
        "bleu_signature": str(bleu_cased.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }


# ------------------------------------------------------------------------------- baseline
def learn_vocab(texts):
    """The tutorial's ``bert_vocab_from_dataset`` call, on one side of the corpus."""
    import tensorflow as tf
    from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab

    dataset = tf.data.Dataset.from_tensor_slices(texts)
    return bert_vocab.bert_vocab_from_dataset(
        dataset.batch(1000).prefetch(2), vocab_size=VOCAB_SIZE,
        reserved_tokens=RESERVED_TOKENS, bert_tokenizer_params=BERT_TOKENIZER_PARAMS,
        learn_params={})


def learn_tokenizers(pairs, folder):
    import tensorflow_text as text

    tokenizers = []
    for side, name in ((0, "source"), (1, "target")):
        started = time.perf_counter()
        vocab = learn_vocab([pair[side] for pair in pairs])
        assert vocab[:len(RESERVED_TOKENS)] == RESERVED_TOKENS
        path = os.path.join(folder, f"{name}_vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(token + "\n" for token in vocab)
        log(f"baseline: {name} WordPiece vocabulary: {len(vocab):,} tokens "
            f"({time.perf_counter() - started:.0f} s)")
        tokenizers.append((text.BertTokenizer(path, **BERT_TOKENIZER_PARAMS), len(vocab)))
    return tokenizers


def tokenize(tokenizer, texts, limit):
    """Word pieces with [START]/[END] (the tutorial's ``add_start_end``), cut to ``limit``:
    an int32 RaggedTensor [N, None]."""
    import tensorflow as tf

    pieces = []
    for start in range(0, len(texts), 1000):
        ragged = tokenizer.tokenize(tf.constant(texts[start:start + 1000])).merge_dims(-2, -1)
        count = ragged.bounding_shape()[0]
        ragged = tf.concat([tf.fill([count, 1], tf.constant(START_ID, tf.int64)), ragged,
                            tf.fill([count, 1], tf.constant(END_ID, tf.int64))], axis=1)
        pieces.append(tf.cast(ragged, tf.int32))
    return tf.concat(pieces, axis=0)[:, :limit]


def lengths_of(source, target):
    import numpy as np

    return np.maximum(source.row_lengths().numpy(), target.row_lengths().numpy())


def make_dataset(source, target, *, shuffle_seed=None, pad_to_boundary, drop_remainder):
    """Length-bucketed ((source, target_in), target_out) batches of 64 sentences."""
    import tensorflow as tf

    # Dense rows and their lengths (slices of a RaggedTensor are ragged, which
    # padded_batch refuses), cut back to each sentence's length.
    dataset = tf.data.Dataset.from_tensor_slices((
        source.to_tensor(), source.row_lengths(), target.to_tensor(), target.row_lengths()))
    dataset = dataset.map(lambda s, s_len, t, t_len: (s[:s_len], t[:t_len]))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(int(source.nrows()), seed=shuffle_seed,
                                  reshuffle_each_iteration=True)
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda s, t: tf.maximum(tf.shape(s)[0], tf.shape(t)[0]),
        bucket_boundaries=BUCKET_BOUNDARIES,
        bucket_batch_sizes=[BATCH_SIZE] * (len(BUCKET_BOUNDARIES) + 1),
        pad_to_bucket_boundary=pad_to_boundary, drop_remainder=drop_remainder)
    dataset = dataset.map(lambda s, t: ((s, t[:, :-1]), t[:, 1:]),
                          num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def masked_loss_smoothed(label, pred):
    """The tutorial's ``masked_loss`` with label smoothing 0.1: the labels one-hot encoded,
    ``CategoricalCrossentropy(label_smoothing=0.1, from_logits=True)`` (sparse
    cross-entropy has no smoothing), averaged over the non-padding positions."""
    import keras
    import tensorflow as tf

    label = tf.cast(label, tf.int32)  # Keras hands the loss float labels
    mask = label != PAD_ID
    loss_object = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=LABEL_SMOOTHING, reduction="none")
    loss = loss_object(tf.one_hot(label, tf.shape(pred)[-1], dtype=pred.dtype), pred)
    mask = tf.cast(mask, dtype=loss.dtype)
    loss *= mask
    return tf.reduce_sum(loss) / tf.reduce_sum(mask)


def build_model(source_vocab, target_vocab, seed, jit_compile):
    import keras

    import baseline_tutorial

    keras.utils.set_random_seed(seed)
    model = baseline_tutorial.build(input_vocab_size=source_vocab,
                                    target_vocab_size=target_vocab, **MODEL)
    optimizer = keras.optimizers.Adam(baseline_tutorial.CustomSchedule(MODEL["d_model"]),
                                      beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    model.compile(loss=masked_loss_smoothed, optimizer=optimizer,
                  metrics=[baseline_tutorial.masked_accuracy], jit_compile=jit_compile)
    return model


def xla_check(batches, source_vocab, target_vocab, seed, budget_seconds, shapes_expected):
    """Time 30 train steps with and without XLA; pick the one projected to run more steps.

    Returns ``(use_xla, report)``. Steady step time: the median over steps whose shapes were
    seen before; the first step (tracing, first compile) and, with XLA, each new shape's
    compile time are overheads: XLA pays the latter for every shape training will meet
    (``shapes_expected``), without XLA the graph is traced once for all shapes.
    """
    import numpy as np

    report = {}
    for use_xla in (False, True):
        model = build_model(source_vocab, target_vocab, seed, use_xla)
        seen, new, old = set(), [], []
        for (source, target_in), target_out in batches:
            shape = (tuple(source.shape), tuple(target_in.shape))
            started = time.perf_counter()
            model.train_on_batch((source, target_in), target_out)  # returns NumPy: synced
            seconds = time.perf_counter() - started
            (old if shape in seen else new).append(seconds)
            seen.add(shape)
        steady = float(np.median(old)) if old else float(np.median(new))
        first = new[0]
        per_new_shape = (max(float(np.mean(new[1:])) - steady, 0.0) if len(new) > 1 else 0.0)
        overhead = first + (per_new_shape * max(shapes_expected - 1, 0) if use_xla else 0.0)
        projected = max(budget_seconds - overhead, 0.0) / steady
        name = "xla" if use_xla else "no_xla"
        report[name] = {"step_seconds": round(steady, 4), "first_step_seconds": round(first, 1),
                        "compile_seconds_per_new_shape": round(per_new_shape, 1),
                        "shapes_in_check": len(seen), "projected_steps": int(projected)}
        log(f"baseline: XLA {'on ' if use_xla else 'off'}: {1000 * steady:.0f} ms/step "
            f"(median of {len(old)} steps on seen shapes), first step {first:.1f} s"
            + (f", {per_new_shape:.1f} s per new shape ({len(seen)} shapes in the check, "
               f"~{shapes_expected} in training)" if use_xla else "")
            + f" → ~{int(projected):,} steps in the budget")
        del model
    # Ties (e.g. a budget shorter than the first step) go to the faster steady step.
    use_xla = ((report["xla"]["projected_steps"], -report["xla"]["step_seconds"])
               > (report["no_xla"]["projected_steps"], -report["no_xla"]["step_seconds"]))
    report["chosen"] = "xla" if use_xla else "no_xla"
    return use_xla, report


def budget_callback(seconds, validation):
    import keras

    class TimeBudget(keras.callbacks.Callback):
        """Stops ``fit`` at the first batch end (or epoch end, after validation) past the
        budget, counted from ``on_train_begin``; runs the validation loss itself at each
        epoch end, so that no validation runs after the budget has stopped training."""

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()
            self.steps = self.epochs = 0
            self.epoch_steps = 0
            self.validation_seconds = 0.0
            self.first_step_seconds = None
            self.history = []

        def _past(self):
            return time.perf_counter() - self.start >= seconds

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            self.epoch_steps = batch + 1
            if self.first_step_seconds is None:
                self.first_step_seconds = time.perf_counter() - self.start
            if self._past():
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = {} if logs is None else logs
            row = {"epoch": epoch + 1, "steps": self.epoch_steps,
                   **{k: round(float(v), 4) for k, v in logs.items()}}
            if not self.model.stop_training:  # a whole epoch: validate, inside the budget
                self.epochs += 1
                started = time.perf_counter()
                results = self.model.evaluate(validation, verbose=0, return_dict=True)
                self.validation_seconds += time.perf_counter() - started
                for key, value in results.items():
                    logs[f"val_{key}"] = value
                    row[f"val_{key}"] = round(float(value), 4)
                if self._past():
                    self.model.stop_training = True
            self.history.append(row)
            log("baseline: epoch {epoch}{partial}: {steps} steps, loss {loss}, acc {acc}"
                "{val}, {minutes:.1f} min".format(
                    epoch=epoch + 1, partial=" (stopped by the budget)"
                    if "val_loss" not in row else "",
                    steps=self.epoch_steps, loss=row.get("loss", "n/a"),
                    acc=row.get("masked_accuracy", "n/a"),
                    val=(f"; val loss {row['val_loss']}, val acc "
                         f"{row.get('val_masked_accuracy', 'n/a')}" if "val_loss" in row
                         else ""),
                    minutes=(time.perf_counter() - self.start) / 60))

    return TimeBudget()


def decode(model, tokenizer, source_ids, max_new_tokens=MAX_TOKENS, batch_size=BATCH_SIZE):
    """Greedy translations (the tutorial's Translator, batched, stopping at [END]), as
    detokenised strings in input order, before ``fair_cleanup``."""
    import numpy as np
    import tensorflow as tf

    import baseline_tutorial

    class Translator(baseline_tutorial.Translator):
        """The baseline's batched loop, plus the tutorial's stop at [END]: once every
        sentence of the batch has produced it (later positions are padded)."""

        def __init__(self, transformer, max_new_tokens, start_id, end_id):
            self.end_id = end_id
            super().__init__(transformer, max_new_tokens, start_id)

        def _run(self, encoder_input):
            batch = tf.shape(encoder_input)[0]
            output_array = tf.TensorArray(dtype=tf.int32, size=0, dynamic_size=True)
            output_array = output_array.write(0, tf.fill([batch], self.start_id))
            done = tf.zeros([batch], tf.bool)
            for i in tf.range(self.max_new_tokens):
                output = tf.transpose(output_array.stack())  # (B, i + 1)
                predictions = self.transformer([encoder_input, output], training=False)
                predicted_id = tf.argmax(predictions[:, -1, :], axis=-1, output_type=tf.int32)
                predicted_id = tf.where(done, PAD_ID, predicted_id)
                output_array = output_array.write(i + 1, predicted_id)
                done = done | tf.equal(predicted_id, self.end_id)
                if tf.reduce_all(done):
                    break
            return tf.transpose(output_array.stack())[:, 1:]

    translator = Translator(model, max_new_tokens, START_ID, END_ID)
    lengths = source_ids.row_lengths().numpy()
    order = np.argsort(lengths, kind="stable")
    outputs = [None] * len(order)
    bad = tf.constant("|".join(re.escape(t) for t in RESERVED_TOKENS if t != "[UNK]"))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = tf.gather(source_ids, rows).to_tensor(default_value=PAD_ID)
        new_tokens = translator(batch).numpy()
        kept = []
        for row in new_tokens:  # up to (not including) [END]
            ends = np.flatnonzero(row == END_ID)
            kept.append(row[:ends[0]] if len(ends) else row)
        # The tutorial's detokenize + cleanup_text: words, reserved tokens dropped, joined
        # with spaces.
        words = tokenizer.detokenize(tf.ragged.constant(kept, dtype=tf.int64, ragged_rank=1)
                                     if any(len(k) for k in kept) else
                                     tf.RaggedTensor.from_row_lengths(
                                         tf.zeros([0], tf.int64), [0] * len(kept)))
        words = tf.ragged.boolean_mask(words, ~tf.strings.regex_full_match(words, bad))
        texts = tf.strings.reduce_join(words, separator=" ", axis=-1).numpy()
        for row, value in zip(rows, texts):
            outputs[row] = value.decode("utf-8")
    return outputs


def run_baseline(args, folder):
    import numpy as np

    wall_started = time.perf_counter()
    os.makedirs(folder, exist_ok=True)
    train, val, test = (read_pairs(path) for path in (args.train, args.val, args.test))
    log(f"baseline: {len(train):,} train, {len(val):,} validation, {len(test):,} test pairs")
    (source_tokenizer, source_vocab), (target_tokenizer, target_vocab) = learn_tokenizers(
        train, folder)

    def ids(pairs):
        return (tokenize(source_tokenizer, [s for s, _ in pairs], MAX_TOKENS),
                tokenize(target_tokenizer, [t for _, t in pairs], MAX_TOKENS + 1))

    train_source, train_target = ids(train)
    val_source, val_target = ids(val)
    test_source = tokenize(source_tokenizer, [s for s, _ in test], MAX_TOKENS)
    setup_seconds = time.perf_counter() - wall_started

    # Shapes training will meet with boundary padding: one per bucket holding a full batch
    # (train drops the remainder), one or two per bucket in validation (full, partial).
    def bucket_counts(source, target):
        buckets = np.searchsorted(BUCKET_BOUNDARIES, lengths_of(source, target), side="right")
        return np.bincount(buckets, minlength=len(BUCKET_BOUNDARIES) + 1)

    train_counts = bucket_counts(train_source, train_target)
    val_counts = bucket_counts(val_source, val_target)
    shapes_expected = int((train_counts >= BATCH_SIZE).sum() + (val_counts >= BATCH_SIZE).sum()
                          + (val_counts % BATCH_SIZE > 0).sum())
    steps_per_epoch = int((train_counts // BATCH_SIZE).sum())
    label_tokens = int((train_target.row_lengths().numpy() - 1).sum())
    tokens_per_step = label_tokens / len(train) * BATCH_SIZE  # non-pad target positions

    budget = args.minutes * 60
    xla_started = time.perf_counter()
    if args.xla == "auto":
        check_data = make_dataset(train_source, train_target, shuffle_seed=args.seed,
                                  pad_to_boundary=True, drop_remainder=True).repeat()
        by_shape = {}
        for batch in check_data.take(20 * XLA_CHECK_STEPS):
            (source, target_in), _ = batch
            by_shape.setdefault((tuple(source.shape), tuple(target_in.shape)), []).append(batch)
            if sorted(map(len, by_shape.values()))[-2:] >= [XLA_CHECK_STEPS // 2] * 2:
                break
        common = sorted(by_shape.values(), key=len, reverse=True)[:2]
        half = XLA_CHECK_STEPS // len(common)
        batches = [batch for pair in zip(*(group[:half] for group in common))
                   for batch in pair]
        use_xla, xla_report = xla_check(batches, source_vocab, target_vocab, args.seed, budget,
                                        shapes_expected)
        del batches
    else:
        use_xla, xla_report = args.xla == "on", {"chosen": f"forced by --xla {args.xla}"}
    xla_seconds = time.perf_counter() - xla_started
    log(f"baseline: training with XLA {'on' if use_xla else 'off'}")

    # XLA compiles once per shape: pad to the bucket boundaries. Without it, pad each batch
    # to its own longest sentence (less padding) and keep every sentence.
    train_data = make_dataset(train_source, train_target, shuffle_seed=args.seed,
                              pad_to_boundary=use_xla, drop_remainder=use_xla)
    if not use_xla:
        steps_per_epoch = int(sum(-(-c // BATCH_SIZE) for c in train_counts))
    val_data = make_dataset(val_source, val_target, pad_to_boundary=use_xla,
                            drop_remainder=False)
    model = build_model(source_vocab, target_vocab, args.seed, use_xla)
    budget_stop = budget_callback(budget, val_data)
    log(f"baseline: training for {args.minutes:g} min ({steps_per_epoch} steps an epoch)")
    train_started = time.perf_counter()
    # (shuffle=False: the tf.data pipeline shuffles, seeded.) Keras warns "Your input ran
    # out of data" at the end of every epoch of a dataset of unknown length: expected here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(train_data, epochs=1_000_000, callbacks=[budget_stop], verbose=0,
                  shuffle=False)
    train_seconds = time.perf_counter() - train_started
    parameters = int(model.count_params())
    steps = budget_stop.steps
    step_seconds = train_seconds - budget_stop.validation_seconds - (
        budget_stop.first_step_seconds or 0.0)
    log(f"baseline: {steps:,} steps, {budget_stop.epochs} whole epochs in "
        f"{train_seconds / 60:.2f} min")

    decode_started = time.perf_counter()
    raw = decode(model, target_tokenizer, test_source)
    decode_seconds = time.perf_counter() - decode_started
    hypotheses = [fair_cleanup(text) for text in raw]
    references = [t for _, t in test]
    with open(os.path.join(folder, "predictions.tsv"), "w", encoding="utf-8") as f:
        f.write("source\treference\tprediction\tdetokenized\n")
        for (source, reference), hypothesis, text in zip(test, hypotheses, raw):
            f.write(f"{source}\t{reference}\t{hypothesis}\t{text}\n")
    scores = score(hypotheses, references)
    # What fair_cleanup is worth (the tutorial's output as is).
    scores["bleu_lowercase_before_cleanup"] = score(raw, references)["bleu_lowercase"]
    log(f"baseline: test BLEU {scores['bleu_lowercase']} (lower-cased), {scores['bleu']} "
        f"(cased), chrF {scores['chrf']}; decoding {decode_seconds:.0f} s")
    return {
        **scores,
        "source_vocab_size": source_vocab, "target_vocab_size": target_vocab,
        "parameters": parameters, "xla": use_xla, "xla_check": xla_report,
        "train_steps": steps, "epochs": budget_stop.epochs,
        "steps_per_epoch": steps_per_epoch,
        "train_seconds": round(train_seconds, 1),
        "validation_seconds": round(budget_stop.validation_seconds, 1),
        "first_step_seconds": round(budget_stop.first_step_seconds or 0.0, 1),
        # Non-pad target tokens (the labels), estimated as steps × 64 × the mean target
        # length; over the whole budget, and over the steps alone (no first step, no
        # validation).
        "train_tokens_per_second": round(steps * tokens_per_step / train_seconds, 1),
        "step_tokens_per_second": round(max(steps - 1, 0) * tokens_per_step
                                        / max(step_seconds, 1e-9), 1),
        "decode_seconds": round(decode_seconds, 1),
        "setup_seconds": round(setup_seconds, 1), "xla_check_seconds": round(xla_seconds, 1),
        "wall_seconds": round(time.perf_counter() - wall_started, 1),
        "history": budget_stop.history,
        "sample": [{"source": test[i][0], "reference": test[i][1], "prediction": hypotheses[i]}
                   for i in range(min(3, len(test)))],
    }


# ---------------------------------------------------------------------------------- tfbig
def failed(result, command, code, output, tail):
    """Record a failed ``tfbig.<command>`` subprocess in ``result`` (its log's last lines)."""
    result["error"] = (f"tfbig.{command} exited with status {code} (log: "
                       f"{os.path.join(output, f'tfbig_{command}.log')}): " + " | ".join(
                           line for line in tail[-4:] if line.strip()))
    log("tfbig FAILED: " + result["error"])
    return result


def run_logged(command, log_path):
    """Run ``command`` from the repository root, its output to stderr and ``log_path``."""
    log("$ " + " ".join(command))
    started = time.perf_counter()
    lines = []
    with open(log_path, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in process.stdout:
            log_file.write(line)
            sys.stderr.write("    " + line)
            sys.stderr.flush()
            lines.append(line.rstrip("\n"))
        process.wait()
    return process.returncode, time.perf_counter() - started, lines


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run_tfbig(args, output):
    run_dir = os.path.join(output, "tfbig")
    train = [sys.executable, "-m", "tfbig.train", "--task", "translate",
             "--data", args.train, "--val-data", args.val, "--time-budget", f"{args.minutes:g}",
             "--output", run_dir, "--seed", str(args.seed), "--overwrite"]
    evaluate = [sys.executable, "-m", "tfbig.evaluate", "--run", run_dir, "--data", args.test]
    result = {"commands": [" ".join(train), " ".join(evaluate)]}
    code, train_wall, tail = run_logged(train, os.path.join(output, "tfbig_train.log"))
    result["train_wall_seconds"] = round(train_wall, 1)
    if code != 0:
        return failed(result, "train", code, output, tail)
    summary = read_json(os.path.join(run_dir, "metrics.json")) or {}
    # metrics.json has no step count: take it from the budget's closing line, "time budget:
    # trained 25 s of 30 s, 45 steps (stopped on time)".
    closing = re.compile(r"time budget: trained .*?([\d,]+) steps")
    steps = [m.group(1) for m in map(closing.search, tail) if m]
    if steps:
        result["train_steps"] = int(steps[-1].replace(",", ""))
    code, eval_wall, tail = run_logged(evaluate, os.path.join(output, "tfbig_evaluate.log"))
    result["evaluate_wall_seconds"] = round(eval_wall, 1)
    result["wall_seconds"] = round(train_wall + eval_wall, 1)
    for key in ("train_seconds", "train_tokens_per_second", "parameters", "train_steps",
                "steps", "epochs", "stopped_by", "epoch_metrics_seconds"):
        if key in summary:
            result[key] = summary[key]
    if "train_steps" not in result and "steps" in summary:
        result["train_steps"] = summary["steps"]
    history = os.path.join(run_dir, "history.csv")
    if "epochs" not in result and os.path.exists(history):
        with open(history, encoding="utf-8") as f:
            result["epochs"] = max(sum(1 for line in f if line.strip()) - 1, 0)
    if code != 0:
        return failed(result, "evaluate", code, output, tail)
    metrics = read_json(os.path.join(run_dir, "eval", "metrics.json")) or {}
    for key in ("bleu", "bleu_lowercase", "chrf", "bleu_signature", "exact_match",
                "decoding"):
        result[key] = metrics.get(key)
    # The accent-insensitive diagnostic, from tfbig's own predictions and the raw references.
    predictions = os.path.join(run_dir, "eval", "predictions.tsv")
    try:
        import csv

        with open(predictions, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        references = [t for _, t in read_pairs(args.test)]
        hypotheses = [row["prediction"] for row in rows]
        if len(hypotheses) == len(references):
            result["bleu_lowercase_no_accents"] = score(
                hypotheses, references)["bleu_lowercase_no_accents"]
    except (OSError, KeyError, csv.Error) as error:
        log(f"tfbig: no accent-insensitive BLEU ({error})")
    log(f"tfbig: test BLEU {result.get('bleu_lowercase', 'n/a')} (lower-cased), "
        f"{result.get('bleu', 'n/a')} (cased), chrF {result.get('chrf', 'n/a')}")
    return result


# ---------------------------------------------------------------------------------- table
def fmt(value, digits=2):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return f"{a / b:.2f}×"
    return "n/a"


def table(baseline, tfbig):
    baseline, tfbig = baseline or {}, tfbig or {}

    def minutes(run, key):
        return run[key] / 60 if isinstance(run.get(key), (int, float)) else None

    rows = [
        ("BLEU, lower-cased", "bleu_lowercase", True),
        ("BLEU, cased", "bleu", True),
        ("chrF", "chrf", True),
        ("BLEU, lower-cased, accents stripped", "bleu_lowercase_no_accents", True),
    ]
    lines = ["| | baseline (tutorial) | tfbig | tfbig / baseline |", "|---|---|---|---|"]
    for label, key, with_ratio in rows:
        lines.append(f"| {label} | {fmt(baseline.get(key))} | {fmt(tfbig.get(key))} | "
                     f"{ratio(tfbig.get(key), baseline.get(key)) if with_ratio else ''} |")
    for label, b, t in [
            ("training minutes", minutes(baseline, "train_seconds"),
             minutes(tfbig, "train_seconds")),
            ("train steps", baseline.get("train_steps"), tfbig.get("train_steps")),
            ("epochs (baseline: whole ones; tfbig: history.csv rows)", baseline.get("epochs"),
             tfbig.get("epochs")),
            ("wall minutes incl. evaluation", minutes(baseline, "wall_seconds"),
             minutes(tfbig, "wall_seconds")),
            ("… of which: tokenizers, data, XLA check (baseline)",
             (baseline["setup_seconds"] + baseline["xla_check_seconds"]) / 60
             if "setup_seconds" in baseline else None, None),
            ("… of which: test decoding (baseline) / tfbig.evaluate",
             minutes(baseline, "decode_seconds"), minutes(tfbig, "evaluate_wall_seconds"))]:
        lines.append(f"| {label} | {fmt(b)} | {fmt(t)} | |")
    text = "\n".join(lines)
    text += (f"\n\ndecoding: baseline greedy (the tutorial's Translator); tfbig "
             f"{tfbig.get('decoding', 'n/a')}")
    if tfbig.get("error"):
        text += f"\n\ntfbig: {tfbig['error']}"
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, metavar="TSV")
    parser.add_argument("--val", metavar="TSV")
    parser.add_argument("--test", metavar="TSV")
    parser.add_argument("--minutes", type=float, default=25.0,
                        help="training wall time of each system (default: 25)")
    parser.add_argument("--output", metavar="DIR", help="results.json and the runs go here")
    parser.add_argument("--which", choices=("baseline", "tfbig", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--xla", choices=("auto", "on", "off"), default="auto",
                        help="baseline: time both for 30 steps and take the faster (auto)")
    parser.add_argument("--vocab-only", action="store_true",
                        help="learn the baseline's vocabularies on --train, print their "
                             "sizes, and stop")
    args = parser.parse_args()
    sys.path.insert(0, HERE)  # baseline_tutorial, when run from elsewhere

    if args.vocab_only:
        import tempfile

        pairs = read_pairs(args.train)
        with tempfile.TemporaryDirectory() as folder:
            (_, source), (_, target) = learn_tokenizers(pairs, args.output or folder)
        print(json.dumps({"train": args.train, "pairs": len(pairs),
                          "source_vocab_size": source, "target_vocab_size": target}))
        return
    missing = [name for name in ("val", "test", "output") if getattr(args, name) is None]
    if missing:
        parser.error("required: " + ", ".join(f"--{name}" for name in missing))
    for name in ("train", "val", "test"):
        path = os.path.abspath(getattr(args, name))
        if not os.path.isfile(path):
            parser.error(f"--{name} {path}: no such file")
        setattr(args, name, path)
    args.output = os.path.abspath(args.output)
    os.makedirs(args.output, exist_ok=True)
    results_path = os.path.join(args.output, "results.json")
    results = read_json(results_path) or {}
    results.update({"data": {"train": args.train, "val": args.val, "test": args.test},
                    "minutes": args.minutes, "seed": args.seed,
                    "machine": {"platform": platform.platform(),
                                "processor": platform.processor() or platform.machine(),
                                "cpus": os.cpu_count()}})

    def save():
        baseline, tfbig = results.get("baseline") or {}, results.get("tfbig") or {}
        results["ratios"] = {key: ratio(tfbig.get(key), baseline.get(key))
                             for key in ("bleu_lowercase", "bleu", "chrf")}
        with open(results_path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(results_path + ".tmp", results_path)

    if args.which in ("baseline", "both"):
        log(f"== baseline (tutorial recipe), {args.minutes:g} min of training")
        results["baseline"] = run_baseline(args, os.path.join(args.output, "baseline"))
        save()  # before tfbig runs: a failure there keeps these
    if args.which in ("tfbig", "both"):
        log(f"== tfbig defaults, {args.minutes:g} min of training")
        results["tfbig"] = run_tfbig(args, args.output)
    save()
    print(table(results.get("baseline"), results.get("tfbig")))
    print(f"\nwritten: {results_path}")


if __name__ == "__main__":
    main()
