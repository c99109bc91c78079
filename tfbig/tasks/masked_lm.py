"""The masked-language-modelling task: BERT's pre-training objective.

Data: plain text, one document or sentence per line, or a folder of ``.txt`` files.
Model: :class:`tfbig.models.BertMaskedLM`. Each line becomes ``[CLS] tokens [SEP]`` and 15%
of its tokens are chosen for prediction (80% of those become ``[MASK]``, 10% a random
token, 10% stay; new choices every epoch: ``masked_lm_dataset``). Loss: cross-entropy over
the chosen positions only; metric: their accuracy.

Final metrics (fixed, seeded masks, so runs compare): ``masked_accuracy``,
``cross_entropy`` and ``perplexity`` over the chosen positions.

Predict: every ``[MASK]`` written in an input line (exactly that text, upper case) is
replaced by the model's most likely learned token (a ``##`` word piece loses its ``##``);
the rest of the line is returned as it was. A line without ``[MASK]`` comes back unchanged,
and masks beyond the model's longest input (``model.max_length`` tokens) stay ``[MASK]``.
"""

import math
import os

from tfbig.config import replace
from tfbig.data.sources import read_texts
from tfbig.tasks.base import Task
from tfbig.tasks.prepared import PreparedTrain

TOKENIZER = "tokenizer"
MASK_RATE = 0.15  # BERT's share of tokens to predict


class MaskedLMTask(Task):
    """Everything the mlm task needs, from text lines to filled-in masks.

    Args:
        config: a resolved :class:`tfbig.config.RunConfig` with ``task="mlm"``.
    """

    name = "mlm"
    models = ("bert",)
    sample_data = "corpus.txt"
    reader = staticmethod(read_texts)
    text_folder = True
    json_fields = ("text_field",)
    preparable = True
    prepared_features = (("token_ids", "ids"),)  # [CLS] tokens [SEP], masked when read
    monitor = ("val_loss", "min")

    @staticmethod
    def stream_reader(files, **options):
        """A stream of shards, globs, ``.gz`` or a big file (``tfbig.tasks.streaming``)."""
        from tfbig.data.stream import text_stream  # TensorFlow loads only here

        return text_stream(files, **options)

    def __init__(self, config):
        super().__init__(config)
        self.tokenizer = None
        self._forward = None  # (model, its traced forward pass)

    def learn_assets(self, train_texts):
        from tfbig.data.tokenizers import learn_tokenizer

        if isinstance(train_texts, PreparedTrain):  # learnt when it was prepared
            self.load_assets(train_texts.folder)
            return
        data = self.config.data
        kind = "wordpiece" if data.tokenizer == "auto" else data.tokenizer
        self.tokenizer = learn_tokenizer(kind, train_texts, vocab_size=data.vocab_size,
                                         lower_case=data.lower_case,
                                         strip_accents=data.strip_accents)

    def resolve_lengths(self, train_texts):
        """``data.max_source_length`` (0 = the longest training line + [CLS] and [SEP]),
        capped at ``model.max_length``."""
        if isinstance(train_texts, PreparedTrain):  # fixed (and its texts cut) when prepared
            return self.config
        from tfbig.data.token_lengths import longest_tokenized

        data, cap = self.config.data, self.config.model.max_length
        length = data.max_source_length or longest_tokenized(train_texts, self.tokenizer) + 2
        self.config = replace(self.config, data={"max_source_length": min(max(length, 3), cap)})
        return self.config

    def save_assets(self, run_dir):
        self.tokenizer.save(os.path.join(run_dir, TOKENIZER))

    def load_assets(self, run_dir):
        from tfbig.tasks.assets import load_text_tokenizer

        self.tokenizer = load_text_tokenizer(os.path.join(run_dir, TOKENIZER))

    def dataset(self, texts, *, training, batch_size=None):
        """Batches ``({"token_ids", "padding_mask"}, labels [B, T])``; label 0 = not chosen.
        Unshuffled (evaluation), the masks depend only on ``train.seed``."""
        from tfbig.data.pipeline_text import masked_lm_dataset

        data, train = self.config.data, self.config.train
        if isinstance(texts, PreparedTrain):  # the same pipeline from the ids on
            from tfbig.data.pipeline_text import id_masked_lm_dataset

            self.check_prepared_tokenizer(texts, TOKENIZER)
            return id_masked_lm_dataset(
                self.prepared_examples(texts), vocab_size=self.tokenizer.vocab_size,
                batch_size=batch_size or train.batch_size,
                sequence_length=data.max_source_length, mask_rate=MASK_RATE, seed=train.seed,
                shuffle=training, buffer_size=texts.buffer_size(data.shuffle_buffer),
                repeat=training and train.steps_per_epoch > 0, drop_remainder=training,
                by_file=True)
        return masked_lm_dataset(
            self.pipeline_input(texts), self.tokenizer, batch_size=batch_size or train.batch_size,
            sequence_length=data.max_source_length, mask_rate=MASK_RATE, seed=train.seed,
            shuffle=training, shuffle_buffer=data.shuffle_buffer,
            repeat=training and train.steps_per_epoch > 0, drop_remainder=training)

    def prepared_ids(self, train_texts):
        """Each training text's ``[CLS] tokens [SEP]`` (``masked_lm_ids``), unmasked: what
        ``tfbig.prepare`` writes (the masks are drawn per epoch, from the seed)."""
        from tfbig.data.pipeline_text import masked_lm_ids

        data = self.config.data
        dataset, _, _ = masked_lm_ids(self.pipeline_input(train_texts), self.tokenizer,
                                      sequence_length=data.max_source_length,
                                      shuffle_buffer=data.shuffle_buffer)
        return dataset

    def tokens_per_step(self):
        return self.config.train.batch_size * self.config.data.max_source_length

    # ------------------------------------------------------------------------------- model
    def build_model(self):
        from tfbig.models.build import build_model

        model, length = self.config.model, self.config.data.max_source_length
        bert = build_model(
            "bert_mlm", vocabulary_size=self.tokenizer.vocab_size, num_layers=model.num_layers,
            num_heads=model.num_heads, hidden_dim=model.d_model, intermediate_dim=model.dff,
            dropout=model.dropout_rate, max_sequence_length=max(model.max_length, length))
        bert.build({"token_ids": (None, length), "padding_mask": (None, length)})
        return bert

    def loss_and_metrics(self):
        from tfbig.losses import MaskedSparseCrossentropy
        from tfbig.metrics import MaskedAccuracy

        return (MaskedSparseCrossentropy(label_smoothing=self.config.train.label_smoothing),
                [MaskedAccuracy()])

    # ---------------------------------------------------------------------------- predict
    def predict_texts(self, model, texts, *, method="greedy", max_length=None, batch_size=64,
                      **sampling):
        """Each text with its ``[MASK]``s filled by the argmax learned token (see the module
        docstring), ``""`` for a blank one (:mod:`tfbig.tasks.blank_lines`); decoding
        options do not apply."""
        from tfbig.tasks.blank_lines import answer_non_blank

        return answer_non_blank(texts, lambda asked: self._fill_masks(model, asked, batch_size))

    def _fill_masks(self, model, texts, batch_size):
        import numpy as np

        from tfbig.special_tokens import MASK, NUM_SPECIAL_TOKENS

        tokenizer, vocabulary = self.tokenizer, self.tokenizer.vocabulary
        parts = [text.split(MASK) for text in texts]
        flat = [part for text_parts in parts for part in text_parts]
        piece_ids = iter(tokenizer.tokenize(flat).to_list() if flat else [])
        longest = model.encoder.max_sequence_length
        sequences = []
        for text_parts in parts:
            ids = [tokenizer.cls_id]
            for index, _ in enumerate(text_parts):
                ids += ([tokenizer.mask_id] if index else []) + next(piece_ids)
            sequences.append(ids[:longest - 1] + [tokenizer.sep_id])

        outputs = []
        for start in range(0, len(texts), batch_size):
            batch = sequences[start:start + batch_size]
            width = max(map(len, batch))
            token_ids = np.array([ids + [0] * (width - len(ids)) for ids in batch], np.int32)
            logits = np.array(model({"token_ids": token_ids, "padding_mask": token_ids != 0},
                                    training=False))  # (B, T, V)
            logits[..., :NUM_SPECIAL_TOKENS] = -np.inf  # fill in learned tokens only
            best = logits.argmax(axis=-1)  # (B, T)
            for row, ids in enumerate(batch):
                text_parts = parts[start + row]
                fills = [vocabulary[best[row, position]].removeprefix("##")
                         for position, token in enumerate(ids) if token == tokenizer.mask_id]
                fills += [MASK] * (len(text_parts) - 1 - len(fills))  # cut off: left as is
                outputs.append("".join(part + fill for part, fill in zip(text_parts, fills))
                               + text_parts[-1])
        return outputs

    # --------------------------------------------------------------------------- evaluate
    def final_metrics(self, model, texts):
        """Accuracy, cross-entropy and perplexity over the chosen (masked) positions of
        ``texts``; rows hold text, masked (count), correct, targets and predictions (the
        chosen tokens and the model's guesses), loss (nats per chosen token; 0 if none)."""
        import numpy as np
        import tensorflow as tf

        if self._forward is None or self._forward[0] is not model:  # trace once per model
            self._forward = (model, tf.function(lambda inputs: model(inputs, training=False),
                                                reduce_retracing=True))
        forward = self._forward[1]
        vocabulary = self.tokenizer.vocabulary  # (a copy per call: take it once)
        rows, loss_sum, correct_sum, chosen_sum = [], 0.0, 0, 0
        texts_left = iter(texts)
        for inputs, labels in self.dataset(texts, training=False):
            logits = forward(inputs).numpy()  # (B, T, V)
            labels = labels.numpy()
            log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
            for row in range(len(labels)):
                positions = np.flatnonzero(labels[row])
                targets = labels[row, positions]
                losses = -log_probs[row, positions, targets]
                guesses = logits[row, positions].argmax(axis=-1)
                loss_sum += float(losses.sum())
                correct_sum += int((guesses == targets).sum())
                chosen_sum += len(positions)
                rows.append({
                    "text": next(texts_left), "masked": len(positions),
                    "correct": int((guesses == targets).sum()),
                    "targets": " ".join(vocabulary[t] for t in targets),
                    "predictions": " ".join(vocabulary[g] for g in guesses),
                    "loss": float(losses.mean()) if len(positions) else 0.0})
        cross_entropy = loss_sum / max(chosen_sum, 1)
        metrics = {
            "examples": len(texts),
            "masked_tokens": chosen_sum,
            "masked_accuracy": correct_sum / max(chosen_sum, 1),
            "cross_entropy": cross_entropy,
            "perplexity": math.exp(min(cross_entropy, 700.0)),
        }
        return metrics, rows

    def serving_module(self, model, max_length=None):
        from tfbig.serving.modules import MaskFillingServing

        self.check_no_max_length(max_length)
        return MaskFillingServing(model, self.tokenizer)

    def write_plots(self, model, texts, folder):
        """No task plot: the history and learning-rate plots tell the story."""
        return []
