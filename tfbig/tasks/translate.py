"""The text-to-text task (translation, summarisation, date normalisation, …).

Data: a TSV of ``source<TAB>target`` lines. Model: the encoder-decoder Transformer, or
(``--model rnn``) the LSTM encoder-decoder with Luong attention (``models/rnn_seq2seq.py``).
Loss: masked cross-entropy with label smoothing; metric: masked token accuracy.
Final metrics: exact match, BLEU, chrF of greedy decoding; token accuracy, perplexity.

Reading order of the default ``python -m tfbig.train``, from the TSV to a prediction:

1. ``tfbig/train.py`` → ``tfbig/runs/fit.py`` ``train()``: the driver, top to bottom.
2. This task: ``load_splits`` (``data/sources.py`` reads, ``data/splits.py`` splits by
   hash), ``learn_assets`` (``data/tokenizers.py``: characters for the dates sample).
3. ``data/pipeline_translate.py``: strings → id batches grouped by length (``tf.data``).
4. ``models/transformer.py``: ``layers/encoder.py`` and ``decoder.py`` → blocks →
   ``layers/multi_head_attention.py`` → ``layers/attention.py``, the formula.
5. ``runs/fit.py`` again: compile with ``tfbig/losses.py``, ``model.fit`` with
   ``training/callbacks.py``.
6. ``predict_texts`` → ``generation/generator.py`` ``generate`` (greedy, a key/value cache);
   ``final_metrics`` → ``scoring/text.py`` (BLEU, chrF, exact match).
"""

import os

from tfbig.config import replace
from tfbig.data.sources import read_pairs
from tfbig.errors import TfbigError
from tfbig.tasks.base import Task
from tfbig.tasks.prepared import PreparedTrain, prepared_choices
from tfbig.tasks.streaming import TrainStream

SOURCE_TOKENIZER = "source_tokenizer"
TARGET_TOKENIZER = "target_tokenizer"


class TranslateTask(Task):
    """Everything the translate task needs, from the data file to decoded strings.

    Args:
        config: a resolved :class:`tfbig.config.RunConfig` with ``task="translate"``.
    """

    name = "translate"
    models = ("transformer", "rnn")
    positional_models = ("transformer",)
    sample_data = "dates.tsv"
    preparable = True
    reader = staticmethod(read_pairs)
    json_fields = ("source_field", "target_field")
    prepared_features = (("source", "ids"), ("target", "ids"))  # target: [START] … [END]
    monitor = ("val_masked_accuracy", "max")
    epoch_metrics = ("val_bleu", "val_chrf", "val_exact_match")

    @staticmethod
    def stream_reader(files, **options):
        """A stream of shards, globs, ``.gz`` or a big file (``tfbig.tasks.streaming``)."""
        from tfbig.data.stream import translation_stream  # TensorFlow loads only here

        return translation_stream(files, **options)

    def __init__(self, config):
        super().__init__(config)
        self.source_tokenizer = None
        self.target_tokenizer = None
        self._counted = []  # held-out splits whose cut examples were reported already

    def check_augment(self):
        """Unknown augmentation names fail before training, naming the valid ones."""
        if self.config.data.augment:  # (the import loads TensorFlow: only when needed)
            from tfbig.data.augment_text import TextAugmentConfig

            TextAugmentConfig.from_dict(self.config.data.augment)

    def data_defaults(self, train_pairs):
        """Tokenizer, vocabulary, model size, batching and decoding chosen from the data
        (``tfbig.tasks.translate_defaults``): ``[(key, value, reason)]``."""
        from tfbig.tasks.translate_defaults import data_defaults

        if isinstance(train_pairs, PreparedTrain):  # chosen when it was prepared
            return prepared_choices(self.config, train_pairs)
        scale = getattr(train_pairs, "estimated_examples", len(train_pairs)) / max(
            len(train_pairs), 1)  # a stream's sample stands for the whole split
        return data_defaults(train_pairs, batch_size=self.config.train.batch_size, scale=scale)

    def learn_assets(self, train_pairs):
        """Learn source and target vocabularies from the training split only."""
        from tfbig.data.tokenizers import learn_tokenizer

        if isinstance(train_pairs, PreparedTrain):  # learnt when it was prepared
            self.load_assets(train_pairs.folder)
            return
        data = self.config.data
        kind = "char" if data.tokenizer == "auto" else data.tokenizer
        options = dict(vocab_size=data.vocab_size, lower_case=data.lower_case,
                       strip_accents=data.strip_accents)
        self.source_tokenizer = learn_tokenizer(kind, (s for s, _ in train_pairs), **options)
        self.target_tokenizer = learn_tokenizer(kind, (t for _, t in train_pairs), **options)

    def resolve_lengths(self, train_pairs):
        """Fill ``data.max_source_length``/``max_target_length`` (0 = from the data).

        The target length counts the decoder positions: tokens + 1 ([START] or [END]).
        Both are capped at ``model.max_length`` and at least 3.
        """
        from tfbig.data.token_lengths import tokenized_lengths

        data, cap = self.config.data, self.config.model.max_length
        if isinstance(train_pairs, PreparedTrain):  # fixed when it was prepared
            prepared = train_pairs.info["data"]
            self.config = replace(self.config, data={
                field: prepared[field] for field in ("max_source_length", "max_target_length")})
            self._train_lengths = list(train_pairs.example_lengths())
            return self.config
        source_lengths = tokenized_lengths((s for s, _ in train_pairs), self.source_tokenizer)
        target_lengths = tokenized_lengths((t for _, t in train_pairs), self.target_tokenizer)
        source = data.max_source_length or int(source_lengths.max())
        target = data.max_target_length or int(target_lengths.max()) + 1
        # At least 3, the smallest length the config accepts (one-word targets, "word"
        # tokenizer, would give 2).
        self.config = replace(self.config, data={"max_source_length": max(min(source, cap), 3),
                                                 "max_target_length": max(min(target, cap), 3)})
        self._warn_cut("training", source_lengths, target_lengths,
                       sample=isinstance(train_pairs, TrainStream) and not train_pairs.complete)
        # What a token-budget batch pads each example to: its source or its decoder inputs
        # ([START] and the target's tokens), whichever is longer.
        data = self.config.data
        self._train_lengths = [max(min(s, data.max_source_length),
                                   min(t, data.max_target_length - 1) + 1)
                               for s, t in zip(source_lengths, target_lengths)]
        return self.config

    def warn_truncation(self, splits):
        """One line on stderr per held-out split with sources or targets longer than the
        run's limits (``tfbig.data.truncation``); ``resolve_lengths`` counts the training
        split from the lengths it computes. The held-out splits are tokenised here once:
        nothing else counts their lengths, and they are bounded (a stream reads
        ``data.stream_eval_examples`` of each)."""
        from tfbig.data.token_lengths import tokenized_lengths

        for split in ("validation", "test"):
            pairs = splits.get(split)
            if not pairs or any(pairs is seen for seen in self._counted):
                continue  # e.g. validation falls back to the test split
            self._warn_cut(split, tokenized_lengths((s for s, _ in pairs), self.source_tokenizer),
                           tokenized_lengths((t for _, t in pairs), self.target_tokenizer))
            self._counted.append(pairs)

    def _warn_cut(self, label, source_lengths, target_lengths=None, *, sample=False):
        """Warn about the sources (and targets) that the length limits cut: ``label`` is
        the split ("training", "validation", "test", "evaluated"); None: predict's
        inputs. ``sample``: the lengths are a streamed corpus's sample."""
        from tfbig.data.truncation import warn_truncated

        data, cap = self.config.data, self.config.model.max_length
        warn_truncated(source_lengths, data.max_source_length, field="data.max_source_length",
                       what=f"{label} sources" if label else "inputs", max_length=cap,
                       sample=sample)
        if target_lengths is not None:  # + 1: [START] (decoder inputs) or [END] (targets)
            warn_truncated(target_lengths + 1, data.max_target_length,
                           what=f"{label} targets", field="data.max_target_length",
                           max_length=cap, sample=sample)

    def save_assets(self, run_dir):
        self.source_tokenizer.save(os.path.join(run_dir, SOURCE_TOKENIZER))
        self.target_tokenizer.save(os.path.join(run_dir, TARGET_TOKENIZER))

    def load_assets(self, run_dir):
        from tfbig.data.tokenizers import load_tokenizer

        self.source_tokenizer = load_tokenizer(os.path.join(run_dir, SOURCE_TOKENIZER))
        self.target_tokenizer = load_tokenizer(os.path.join(run_dir, TARGET_TOKENIZER))

    @property
    def repeats_training_data(self):
        """Whether the training stream repeats (then fit counts the steps of an epoch)."""
        return self.config.train.batch_tokens > 0 or self.config.train.steps_per_epoch > 0

    def train_batches(self, train_pairs):
        """Training batches in one epoch."""
        from tfbig.data.pipeline_translate import token_batches_per_epoch

        data, train = self.config.data, self.config.train
        if not train.batch_tokens:
            return len(train_pairs) // train.batch_size
        if getattr(self, "_train_lengths", None) is None:  # resumed: assets loaded, not learnt
            self.resolve_lengths(train_pairs)
        return token_batches_per_epoch(
            self._train_lengths, max(data.max_source_length, data.max_target_length),
            train.batch_tokens)

    def dataset(self, pairs, *, training, batch_size=None):
        """Batches ``((source_ids, decoder_inputs), decoder_targets)`` for fit/evaluate.

        Training batches hold ``train.batch_tokens`` tokens when it is set (grouped by
        length); evaluation batches keep the examples' order (``score`` lines them up)."""
        from tfbig.data.pipeline_translate import translation_dataset, translation_token_batches

        data, train = self.config.data, self.config.train
        if isinstance(pairs, PreparedTrain):
            return self._prepared_dataset(pairs, training=training, batch_size=batch_size)
        pairs = self.pipeline_input(pairs)
        if training and train.batch_tokens:
            return translation_token_batches(
                pairs, self.source_tokenizer, self.target_tokenizer,
                batch_tokens=train.batch_tokens, source_length=data.max_source_length,
                target_length=data.max_target_length, seed=train.seed,
                shuffle_buffer=data.shuffle_buffer, augment=data.augment or None)
        return translation_dataset(
            pairs, self.source_tokenizer, self.target_tokenizer,
            batch_size=batch_size or train.batch_size, source_length=data.max_source_length,
            target_length=data.max_target_length, shuffle=training, seed=train.seed,
            shuffle_buffer=data.shuffle_buffer,
            repeat=training and train.steps_per_epoch > 0, drop_remainder=training,
            augment=data.augment if training and data.augment else None)

    def _prepared_dataset(self, train_ids, *, training, batch_size=None):
        """``dataset`` of a prepared folder's training split: the same pipeline from the
        token ids on (``tfbig.data.pipeline_translate``: ``id_token_batches``,
        ``id_translation_dataset``), so the batches are the raw corpus's."""
        from tfbig.data.augment_text import text_augmenter
        from tfbig.data.pipeline_translate import id_token_batches, id_translation_dataset

        from tfbig.data.tokenizers import load_tokenizer

        for name, tokenizer in ((SOURCE_TOKENIZER, self.source_tokenizer),
                                (TARGET_TOKENIZER, self.target_tokenizer)):
            prepared = load_tokenizer(os.path.join(train_ids.folder, name))
            if prepared.vocabulary != tokenizer.vocabulary:  # e.g. fine-tuning another run
                raise TfbigError(f"--data {train_ids.folder}: its {name.replace('_', ' ')} is "
                                 f"not this run's; train from the raw corpus, or prepare it "
                                 f"with this run's tokenizer")
        data, train = self.config.data, self.config.train
        examples = self.prepared_examples(train_ids)
        buffer_size = train_ids.buffer_size(data.shuffle_buffer)
        if training and train.batch_tokens:
            augment = (text_augmenter(data.augment, self.source_tokenizer.vocab_size)
                       if data.augment else None)
            return id_token_batches(
                examples, batch_tokens=train.batch_tokens, source_length=data.max_source_length,
                target_length=data.max_target_length, seed=train.seed, buffer_size=buffer_size,
                augment=augment, cache=False, by_file=True)
        if training and data.augment:
            raise TfbigError("data.augment with a tfbig.prepare folder needs token-budget "
                             "batches (train.batch_tokens > 0), or train from the raw corpus")
        return id_translation_dataset(
            examples, batch_size=batch_size or train.batch_size,
            source_length=data.max_source_length, target_length=data.max_target_length,
            shuffle=training, seed=train.seed, buffer_size=buffer_size,
            repeat=training and train.steps_per_epoch > 0, drop_remainder=training,
            by_file=True)

    def prepared_ids(self, train_pairs):
        """``(source ids, [START] target ids [END])`` of each training pair, truncated to
        the lengths (``translation_ids``): what ``tfbig.prepare`` writes."""
        from tfbig.data.pipeline_translate import pair_dataset, translation_ids

        data = self.config.data
        pairs, _ = pair_dataset(self.pipeline_input(train_pairs), data.shuffle_buffer)
        return translation_ids(pairs, self.source_tokenizer, self.target_tokenizer,
                               data.max_source_length, data.max_target_length)

    @staticmethod
    def prepared_length(example):
        """What a token-budget batch pads it to: its source or its decoder inputs."""
        source, framed = example
        return max(len(source), len(framed) - 1)

    def tokens_per_step(self):
        """Decoder positions one train step processes (for tokens/s)."""
        train = self.config.train
        return train.batch_tokens or train.batch_size * self.config.data.max_target_length

    # ------------------------------------------------------------------------------- model
    def build_model(self):
        """The Transformer at ``config.model``'s sizes; ``rnn``: the LSTM encoder-decoder with
        ``d_model`` as its embedding size and units (``num_layers``, ``num_heads`` and ``dff``
        do not apply: one bidirectional encoder layer, one decoder layer, one attention)."""
        from tfbig.models.transformer import Transformer

        model, data = self.config.model, self.config.data
        shapes = ((None, data.max_source_length), (None, data.max_target_length))
        if self.config.model_name == "rnn":
            from tfbig.models.rnn_seq2seq import RNNSeq2Seq

            rnn = RNNSeq2Seq(self.source_tokenizer.vocab_size, self.target_tokenizer.vocab_size,
                             embedding_dim=model.d_model, units=model.d_model, cell="lstm",
                             dropout=model.dropout_rate, name="rnn_seq2seq")
            rnn.build(shapes)
            return rnn
        transformer = Transformer(
            num_layers=model.num_layers, d_model=model.d_model, num_heads=model.num_heads,
            dff=model.dff, input_vocab_size=self.source_tokenizer.vocab_size,
            target_vocab_size=self.target_tokenizer.vocab_size,
            dropout_rate=model.dropout_rate,
            max_length=max(model.max_length, data.max_source_length, data.max_target_length),
            positional=model.positional, norm_first=model.norm_first,
            activation=model.activation, tie_embeddings=model.tie_embeddings,
            name="transformer")
        transformer.build(shapes)
        return transformer

    def loss_and_metrics(self):
        from tfbig.losses import MaskedSparseCrossentropy
        from tfbig.metrics import MaskedAccuracy

        return (MaskedSparseCrossentropy(label_smoothing=self.config.train.label_smoothing),
                [MaskedAccuracy()])

    # ---------------------------------------------------------------------------- predict
    def predict_texts(self, model, texts, *, method="greedy", max_length=None, batch_size=64,
                      warn=True, **sampling):
        """Decode one output string per input string (``""`` for a blank one, see
        :mod:`tfbig.tasks.blank_lines`).

        Sources longer than ``data.max_source_length`` are cut there (never past the
        model's position table); ``warn``: say how many, once, on stderr (the epoch-end
        scorer turns it off: its validation sources were counted before training)."""
        from tfbig.tasks.blank_lines import answer_non_blank

        def decode(asked):
            outputs, source_lengths = self._decode(model, asked, method=method,
                                                   max_length=max_length,
                                                   batch_size=batch_size, **sampling)
            if warn:
                self._warn_cut(None, source_lengths)
            return outputs

        return answer_non_blank(texts, decode)

    def _decode(self, model, texts, *, method="greedy", max_length=None, batch_size=64,
                **sampling):
        """``(outputs, source token counts before the cut)`` of ``predict_texts``."""
        import numpy as np
        import tensorflow as tf

        from tfbig.data.batching import to_fixed_length
        from tfbig.generation import generate
        from tfbig.generation.batches import text_batches
        from tfbig.special_tokens import END_ID, START_ID

        data = self.config.data
        max_new_tokens = max_length or data.max_target_length
        outputs, lengths = [], [np.zeros([0], np.int64)]
        for batch, count in text_batches(texts, batch_size):
            ragged = self.source_tokenizer.tokenize(tf.constant(batch))
            lengths.append(ragged.row_lengths().numpy()[:count])  # counted before the cut
            source_ids = to_fixed_length(ragged, data.max_source_length)
            new_tokens = generate(model, tf.cast(source_ids, tf.int32), max_new_tokens,
                                  START_ID, END_ID, method=method, **sampling)
            # detokenize drops [END] and the padding after it.
            decoded = self.target_tokenizer.detokenize(new_tokens[:count])
            outputs += [text.decode("utf-8") for text in decoded.numpy()]
        return outputs, np.concatenate(lengths)

    def score(self, model, pairs):
        """Teacher-forced per-example cross-entropy (nats/token, no label smoothing) and
        token counts: ``(losses [N], correct [N], tokens [N])`` as NumPy arrays."""
        import keras
        import numpy as np
        import tensorflow as tf
        from keras import ops

        from tfbig.ops import argmax

        # One traced function per model, kept: train() scores the validation and the test
        # split, and a new tf.function each call would trace (seconds) each time.
        if getattr(self, "_scorer_model", None) is not model:
            @tf.function(autograph=False, reduce_retracing=True)  # plain tensor code
            def per_example(inputs, targets):
                logits = model(inputs, training=False)
                mask = ops.cast(ops.not_equal(targets, 0), "float32")
                losses = keras.losses.sparse_categorical_crossentropy(
                    targets, logits, from_logits=True)  # (B, T)
                right = ops.cast(ops.equal(argmax(logits, axis=-1), targets), "float32")
                return (ops.sum(losses * mask, axis=1), ops.sum(right * mask, axis=1),
                        ops.sum(mask, axis=1))

            self._scorer_model, self._scorer = model, per_example
        per_example = self._scorer
        totals = [[], [], []]
        for inputs, targets in self.dataset(pairs, training=False):
            for total, values in zip(totals, per_example(inputs, targets)):
                total.append(values.numpy())
        loss_sums, correct, tokens = (np.concatenate(total) for total in totals)
        return loss_sums / np.maximum(tokens, 1), correct, tokens

    def serving_module(self, model, max_length=None):
        from tfbig.serving.modules import TranslateServing

        data = self.config.data
        max_new_tokens = max_length or data.max_target_length
        limit = getattr(model, "max_length", None)
        if limit is not None and max_new_tokens > limit:
            raise TfbigError(f"--max-length {max_new_tokens} is longer than the model's "
                             f"position table ({limit}); use at most {limit}")
        return TranslateServing(model, self.source_tokenizer, self.target_tokenizer,
                                data.max_source_length, max_new_tokens)

    def epoch_scorer(self, validation, max_examples):
        """BLEU, chrF and exact match of the first ``max_examples`` validation pairs, greedy
        decoded (the same pairs every epoch, so the curve compares like with like)."""
        from tfbig.training.task_metrics import TranslationScorer

        return TranslationScorer(self, validation, max_examples)

    def final_decoding(self):
        """``(method, options)`` of the final metrics: ``train.final_decode`` ("auto": beam
        search unless the tokens are characters, where greedy finds the one answer)."""
        train = self.config.train
        method = train.final_decode
        if method == "auto":
            method = "greedy" if self.target_tokenizer.kind == "char" else "beam"
        options = (dict(beam_size=train.beam_size, length_penalty=train.length_penalty)
                   if method == "beam" else {})
        return method, options

    def final_metrics(self, model, pairs):
        """Decoding and teacher-forced metrics on ``pairs``, and one row per example.

        Returns ``(metrics, rows)``: exact match, BLEU (cased and lower-cased, with
        sacrebleu's signatures) and chrF of the decoded strings (``final_decoding``: beam
        search on natural language) against the normalised references; token accuracy,
        cross-entropy and perplexity of the teacher-forced next-token predictions; rows hold
        source, reference, prediction, loss.
        """
        import math

        import tensorflow as tf

        from tfbig.data.text_normalization import normalize_text
        from tfbig.scoring.text import exact_match, translation_scores

        sources = [s for s, _ in pairs]
        # References normalised as the tokenizer normalises its input (NFKC, case, …).
        tokenizer = self.target_tokenizer
        normalized = normalize_text(tf.constant([t for _, t in pairs]),
                                    form=tokenizer.normalization, lower_case=tokenizer.lower_case,
                                    strip_accents=tokenizer.strip_accents)
        references = [text.decode("utf-8") for text in normalized.numpy()]
        method, options = self.final_decoding()
        predictions, source_lengths = self._decode(model, sources, method=method, **options)
        if not any(pairs is seen for seen in self._counted):  # evaluate: a new data file
            self._warn_cut("evaluated", source_lengths)
        losses, correct, tokens = self.score(model, pairs)
        cross_entropy = float((losses * tokens).sum() / max(tokens.sum(), 1))
        metrics = {
            "examples": len(pairs),
            "decoding": method + (f" ({options['beam_size']} beams, length penalty "
                                  f"{options['length_penalty']})" if options else ""),
            "exact_match": exact_match(predictions, references),
            **translation_scores(predictions, references),
            "token_accuracy": float(correct.sum() / max(tokens.sum(), 1)),
            "cross_entropy": cross_entropy,
            "perplexity": math.exp(min(cross_entropy, 700.0)),
        }
        rows = [{"source": source, "reference": reference, "prediction": prediction,
                 "loss": float(loss)}
                for source, reference, prediction, loss in zip(sources, references,
                                                               predictions, losses)]
        return metrics, rows

    def write_plots(self, model, pairs, folder):
        """Attention maps of the first example: encoder self, decoder self, and cross
        attention of the last layer, every head, tokens on the axes (the RNN has only the
        cross attention)."""
        import tensorflow as tf

        from tfbig import plots
        from tfbig.data.pipeline_translate import encode_translation_batch

        (source_ids, decoder_inputs), _ = encode_translation_batch(
            tf.constant([pairs[0][0]]), tf.constant([pairs[0][1]]), self.source_tokenizer,
            self.target_tokenizer, self.config.data.max_source_length,
            self.config.data.max_target_length)
        source_length = int(tf.reduce_sum(tf.cast(source_ids[0] > 0, tf.int32)))
        target_length = int(tf.reduce_sum(tf.cast(decoder_inputs[0] > 0, tf.int32)))
        source_tokens = self._tokens(self.source_tokenizer, source_ids[0, :source_length])
        target_tokens = self._tokens(self.target_tokenizer, decoder_inputs[0, :target_length])
        scores = model.attention_scores(source_ids, decoder_inputs)
        paths = []
        for name, queries, keys in (("encoder", source_tokens, source_tokens),
                                    ("decoder_self", target_tokens, target_tokens),
                                    ("cross", target_tokens, source_tokens)):
            if name not in scores:
                continue
            weights = scores[name][-1][0, :, :len(queries), :len(keys)]  # (heads, T_q, T_k)
            paths.append(plots.plot_attention(
                weights.numpy(), queries, keys,
                os.path.join(folder, f"attention_{name}.png"),
                title=f"{name.replace('_', ' ')} attention, last layer"))
        return paths

    @staticmethod
    def _tokens(tokenizer, ids):
        vocabulary = tokenizer.vocabulary
        return [vocabulary[int(i)] for i in ids.numpy()]
