"""The language-modelling task: a GPT learns to continue text.

Data: plain text, one document or sentence per line, or a folder of ``.txt`` files.
Model: the decoder-only :class:`tfbig.models.GPT`. Training packs the ``[START] … [END]``
lines into windows of ``T`` tokens (``language_model_dataset(pack=True)``); loss: masked
next-token cross-entropy (with ``train.label_smoothing``); metric: token accuracy.

Final metrics score every line on its own (``pack=False``: no context from other lines):
cross-entropy (nats/token), perplexity and token accuracy of the next-token predictions,
and ``unigram_perplexity``, the perplexity of the same target tokens under a unigram model
of the training split (add-one smoothed counts), the bar any language model has to clear.
"""

import json
import math
import os

from tfbig.config import replace
from tfbig.data.sources import read_texts
from tfbig.errors import TfbigError
from tfbig.tasks.base import Task
from tfbig.tasks.prepared import PreparedTrain

TOKENIZER = "tokenizer"
UNIGRAM_COUNTS = "unigram_counts.json"  # training target-token counts, indexed by id


def packed_windows(lengths, length):
    """Windows of ``length`` that ``language_model_dataset(pack=True)`` cuts from lines of
    ``lengths`` tokens: each chunk of lines is one stream of ``Σ (n + 2)`` ids, so
    ``Σ (n + 2) - 1`` transitions."""
    import numpy as np

    from tfbig.data.batching import TOKENIZE_CHUNK  # lines packed into one stream

    windows = 0
    for first in range(0, len(lengths), TOKENIZE_CHUNK):
        ids = int(np.sum(np.asarray(lengths[first:first + TOKENIZE_CHUNK]) + 2))
        windows += math.ceil((ids - 1) / length)
    return windows


class LanguageModelTask(Task):
    """Everything the lm task needs, from text lines to generated continuations.

    Args:
        config: a resolved :class:`tfbig.config.RunConfig` with ``task="lm"``.
    """

    name = "lm"
    models = ("gpt",)
    positional_models = ("gpt",)
    sample_data = "corpus.txt"
    defaults = {"": {"model.positional": "learned"}}  # GPT-2's position table
    reader = staticmethod(read_texts)
    text_folder = True
    json_fields = ("text_field",)
    preparable = True
    # the packed windows of T tokens and their next tokens (language_model_windows)
    prepared_features = (("token_ids", "ids"), ("next_ids", "ids"))
    monitor = ("val_loss", "min")

    @staticmethod
    def stream_reader(files, **options):
        """A stream of shards, globs, ``.gz`` or a big file (``tfbig.tasks.streaming``)."""
        from tfbig.data.stream import text_stream  # TensorFlow loads only here

        return text_stream(files, **options)

    def __init__(self, config):
        super().__init__(config)
        self.tokenizer = None
        self.unigram_counts = None  # [vocab_size] ints
        self._scorer = None  # (model, its traced window scorer)

    def learn_assets(self, train_texts):
        """A WordPiece vocabulary learnt from the training split only."""
        from tfbig.data.tokenizers import learn_tokenizer

        if isinstance(train_texts, PreparedTrain):  # learnt (and counted) when prepared
            self.load_assets(train_texts.folder)
            return
        data = self.config.data
        kind = "wordpiece" if data.tokenizer == "auto" else data.tokenizer
        self.tokenizer = learn_tokenizer(kind, train_texts, vocab_size=data.vocab_size,
                                         lower_case=data.lower_case,
                                         strip_accents=data.strip_accents)

    def _count_tokens(self, texts):
        """``(tokens per text [N], counts [vocab_size])`` of the targets a line gives when
        scored on its own: its tokens and one [END]."""
        import numpy as np
        import tensorflow as tf

        lengths, counts = [], np.zeros(self.tokenizer.vocab_size, np.int64)
        for batch in tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024):
            ids = self.tokenizer.tokenize(batch)
            lengths.append(ids.row_lengths().numpy())
            counts += np.bincount(ids.flat_values.numpy(), minlength=len(counts))
        lengths = np.concatenate(lengths)
        counts[self.tokenizer.end_id] += len(lengths)
        return lengths, counts

    def resolve_lengths(self, train_texts):
        """``data.max_source_length`` (0 = the longest training line + [START] and [END]),
        capped at ``model.max_length``: the window length ``T``.

        Also counts the training targets for the unigram baseline (here, not in
        ``learn_assets``: a fine-tuned run swaps in its start's tokenizer in between).
        """
        data, train = self.config.data, self.config.train
        if isinstance(train_texts, PreparedTrain):  # windows cut and tokens counted then
            self.config = replace(self.config, data={
                "max_source_length": train_texts.info["data"]["max_source_length"]})
            return self.config
        lengths, counts = self._count_tokens(train_texts)
        self.unigram_counts = counts.tolist()
        length = min(max(data.max_source_length or int(lengths.max()) + 2, 3),
                     self.config.model.max_length)
        windows = packed_windows(lengths, length)
        if not train.steps_per_epoch and windows < train.batch_size:
            raise TfbigError(f"the {len(lengths)} training lines pack into {windows} windows "
                             f"of {length} tokens, fewer than train.batch_size="
                             f"{train.batch_size}; lower --batch-size or set "
                             f"--steps-per-epoch (the data then repeats)")
        self.config = replace(self.config, data={"max_source_length": length})
        return self.config

    def train_batches(self, train_texts):
        """Full batches of packed windows in one pass over ``train_texts`` (what an epoch
        without ``train.steps_per_epoch`` trains on)."""
        if isinstance(train_texts, PreparedTrain):  # its examples are the windows
            return len(train_texts) // self.config.train.batch_size
        lengths, _ = self._count_tokens(train_texts)
        windows = packed_windows(lengths, self.config.data.max_source_length)
        return windows // self.config.train.batch_size

    def save_assets(self, run_dir):
        self.tokenizer.save(os.path.join(run_dir, TOKENIZER))
        path = os.path.join(run_dir, UNIGRAM_COUNTS)
        with open(f"{path}.tmp", "w", encoding="utf-8") as f:
            json.dump(self.unigram_counts, f)
        os.replace(f"{path}.tmp", path)

    def load_assets(self, run_dir):
        from tfbig.tasks.assets import load_text_tokenizer

        self.tokenizer = load_text_tokenizer(os.path.join(run_dir, TOKENIZER))
        path = os.path.join(run_dir, UNIGRAM_COUNTS)
        try:
            with open(path, encoding="utf-8") as f:
                self.unigram_counts = json.load(f)
        except (OSError, json.JSONDecodeError):
            raise TfbigError(f"{path}: missing or not valid JSON (an lm run folder keeps the "
                             f"training token counts there)") from None

    def dataset(self, texts, *, training, batch_size=None):
        """Batches ``(token_ids [B, T], next_ids [B, T])`` for fit/evaluate."""
        from tfbig.data.pipeline_text import language_model_dataset

        data, train = self.config.data, self.config.train
        if isinstance(texts, PreparedTrain):  # the same pipeline from the windows on
            from tfbig.data.pipeline_text import id_language_model_dataset

            self.check_prepared_tokenizer(texts, TOKENIZER)
            return id_language_model_dataset(
                self.prepared_examples(texts), batch_size=batch_size or train.batch_size,
                sequence_length=data.max_source_length, shuffle=training, seed=train.seed,
                shuffle_buffer=data.shuffle_buffer,
                repeat=training and train.steps_per_epoch > 0, drop_remainder=training,
                by_file=True)
        return language_model_dataset(
            self.pipeline_input(texts), self.tokenizer, batch_size=batch_size or train.batch_size,
            sequence_length=data.max_source_length, pack=True, shuffle=training,
            seed=train.seed, shuffle_buffer=data.shuffle_buffer,
            repeat=training and train.steps_per_epoch > 0, drop_remainder=training)

    def prepared_ids(self, train_texts):
        """The packed training windows ``(token_ids [T], next_ids [T])``
        (``language_model_windows``): what ``tfbig.prepare`` writes."""
        from tfbig.data.pipeline_text import language_model_windows

        windows, _ = language_model_windows(self.pipeline_input(train_texts), self.tokenizer,
                                            sequence_length=self.config.data.max_source_length,
                                            pack=True)
        return windows

    def tokens_per_step(self):
        return self.config.train.batch_size * self.config.data.max_source_length

    # ------------------------------------------------------------------------------- model
    def build_model(self):
        from tfbig.models.build import build_model

        model, length = self.config.model, self.config.data.max_source_length
        gpt = build_model(
            "gpt", vocabulary_size=self.tokenizer.vocab_size, num_layers=model.num_layers,
            num_heads=model.num_heads, hidden_dim=model.d_model, intermediate_dim=model.dff,
            dropout=model.dropout_rate, max_sequence_length=max(model.max_length, length),
            positional=model.positional)
        gpt.build((None, length))
        return gpt

    def loss_and_metrics(self):
        from tfbig.losses import MaskedSparseCrossentropy
        from tfbig.metrics import MaskedAccuracy

        return (MaskedSparseCrossentropy(label_smoothing=self.config.train.label_smoothing),
                [MaskedAccuracy()])

    # ---------------------------------------------------------------------------- predict
    def predict_texts(self, model, texts, *, method="greedy", max_length=None, batch_size=64,
                      **sampling):
        """A continuation of each text: the decoded new tokens only (up to ``max_length``,
        default ``T``; generation stops at [END]). The prompt is ``[START]`` + the text's
        tokens, cut from the left to fit the model's context."""
        import tensorflow as tf

        from tfbig.generation import generate
        from tfbig.generation.batches import text_batches
        from tfbig.special_tokens import END_ID, START_ID

        max_new_tokens = max_length or self.config.data.max_source_length
        keep = model.max_sequence_length - max_new_tokens + 1  # prompt tokens that fit
        if keep < 1:
            raise TfbigError(f"--max-length {max_new_tokens} leaves no room for a prompt in "
                             f"the model's context of {model.max_sequence_length} tokens")
        outputs = []
        for batch, count in text_batches(texts, batch_size):
            ids = self.tokenizer.tokenize(tf.constant(batch))
            starts = tf.RaggedTensor.from_tensor(tf.fill([ids.nrows(), 1], START_ID))
            prompts = tf.concat([starts, ids], axis=1)[:, -keep:]  # ragged [B, (P)]
            new_tokens = generate(model, prompts.to_tensor(0), max_new_tokens, START_ID,
                                  END_ID, method=method, **sampling)
            decoded = self.tokenizer.detokenize(new_tokens[:count])  # drops [END], padding
            outputs += [text.decode("utf-8") for text in decoded.numpy()]
        return outputs

    # --------------------------------------------------------------------------- evaluate
    def _window_scorer(self, model):
        """A traced ``(inputs, targets) → per-window sums`` of model nats, unigram nats,
        correct predictions and targets; kept for the next call with the same model."""
        import numpy as np
        import tensorflow as tf

        if self._scorer is not None and self._scorer[0] is model:
            return self._scorer[1]
        counts = np.asarray(self.unigram_counts, np.float64)
        unigram = tf.constant(np.log((counts + 1) / (counts.sum() + len(counts))), tf.float32)

        @tf.function(reduce_retracing=True)
        def scorer(inputs, targets):
            logits = model(inputs, training=False)  # (B, T, V)
            mask = tf.cast(targets != 0, tf.float32)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
            baseline = -tf.gather(unigram, targets)  # (B, T)
            right = tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == targets, tf.float32)
            return [tf.reduce_sum(values * mask, axis=1)
                    for values in (losses, baseline, right, mask)]  # 4 × (B,)

        self._scorer = (model, scorer)
        return scorer

    def score(self, model, texts, batch_size=64, chunk=1024):
        """Per-line next-token scores: ``(model nats [N], unigram nats [N], correct [N],
        targets [N])``, sums over each line's targets, as NumPy arrays.

        Each line is framed ``[START] tokens [END]`` and cut into windows of ``T`` on its own
        (``next_token_windows``, as the unpacked pipeline does), eagerly, chunk by chunk.
        """
        import numpy as np

        from tfbig.data.batching import add_start_end
        from tfbig.data.pipeline_text import next_token_windows

        scorer, length = self._window_scorer(model), self.config.data.max_source_length
        per_line = []
        for first in range(0, len(texts), chunk):
            ids = self.tokenizer.tokenize(texts[first:first + chunk])  # [n, (tokens)]
            inputs, targets = next_token_windows(add_start_end(ids, None), length)  # [W, T]
            sums = [[], [], [], []]
            for start in range(0, int(inputs.shape[0]), batch_size):
                batch = (inputs[start:start + batch_size], targets[start:start + batch_size])
                for total, values in zip(sums, scorer(*batch)):
                    total.append(values.numpy())
            # A line of n tokens gives ceil((n + 1) / T) windows, in order: add them up.
            windows = -(-(ids.row_lengths().numpy() + 1) // length)
            line_of_window = np.repeat(np.arange(len(windows)), windows)
            per_line.append([np.bincount(line_of_window, weights=np.concatenate(total),
                                         minlength=len(windows)) for total in sums])
        return [np.concatenate(parts) for parts in zip(*per_line)]

    def final_metrics(self, model, texts):
        """Cross-entropy, perplexity and token accuracy of next-token prediction on
        ``texts`` (each line scored on its own), and the unigram baseline's perplexity on
        the same tokens; rows hold text, tokens, loss (nats/token)."""
        losses, baseline, correct, targets = self.score(model, texts)
        total = max(targets.sum(), 1.0)
        cross_entropy = float(losses.sum() / total)
        unigram = float(baseline.sum() / total)
        metrics = {
            "examples": len(texts),
            "tokens": int(targets.sum()),
            "cross_entropy": cross_entropy,
            "perplexity": math.exp(min(cross_entropy, 700.0)),
            "token_accuracy": float(correct.sum() / total),
            "unigram_perplexity": math.exp(min(unigram, 700.0)),
        }
        rows = [{"text": text, "tokens": int(count), "loss": float(loss / max(count, 1))}
                for text, count, loss in zip(texts, targets, losses)]
        return metrics, rows

    def serving_module(self, model, max_length=None):
        from tfbig.serving.modules import ContinuationServing

        return ContinuationServing(model, self.tokenizer,
                                   max_length or self.config.data.max_source_length)

    def write_plots(self, model, texts, folder):
        """No task plot: the history and learning-rate plots tell the story."""
        return []
