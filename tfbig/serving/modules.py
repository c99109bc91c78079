"""What an exported model runs: one ``tf.Module`` per kind of task, raw inputs in, answers out.

Each module holds the Keras model and the run's tokenizers (``tf.Module``s themselves, so
their lookup tables and WordPiece/SentencePiece models are saved with it) and one
``serve`` ``tf.function`` taking a 1-D ``tf.string`` tensor ``inputs``. It does in the graph
what the task's ``predict_texts`` does in Python, with the same tokenizer calls (which
normalise the text: Unicode form, case, accents, whitespace), the same lengths and the same
greedy decoding (:func:`tfbig.generation.generate`), so the two give the same strings.

=========  ==========================  ==================================================
task       inputs (``[batch]`` string)  outputs
=========  ==========================  ==================================================
translate  source texts                ``outputs`` [batch] string: greedy translations
lm         prompts                     ``outputs`` [batch] string: greedy continuations
classify   texts                       ``labels`` [batch] string, ``probabilities``
                                       [batch, classes] float32 (softmax)
image      encoded PNG/JPEG/GIF/BMP    ``labels``, ``probabilities`` as classify
audio      WAV file bytes              ``labels``, ``probabilities`` as image
mlm        texts with ``[MASK]``       ``outputs`` [batch] string: each ``[MASK]`` filled
=========  ==========================  ==================================================

As in ``predict`` (:mod:`tfbig.tasks.blank_lines`), a blank input (empty, or whitespace only
for texts) gets ``""`` and, where there are probabilities, zeros; ``lm`` continues an empty
prompt.
"""

import tensorflow as tf

from tfbig.data import audio_features
from tfbig.data.batching import add_cls_sep, to_fixed_length
from tfbig.data.pipeline_image import decode_image_bytes
from tfbig.data.wav_bytes import decode_wav_bytes
from tfbig.errors import TfbigError
from tfbig.generation import generate
from tfbig.serving import mask_filling
from tfbig.special_tokens import END_ID, START_ID

INPUTS = tf.TensorSpec([None], tf.string, name="inputs")
# Plain tensor code with no Python control flow on tensors: autograph would only slow tracing.
serving_function = tf.function(input_signature=[INPUTS], autograph=False)


# Python's str.isspace characters, in RE2 syntax: ASCII whitespace (RE2's \s lacks \v),
# \x1c-\x1f, \x85 and the Unicode separators (\p{Z}: no-break, ideographic, ... spaces).
BLANK_TEXT = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]*"


def blank_texts(inputs):
    """``(B,)`` bool: which texts are blank (``not text.strip()`` in Python)."""
    return tf.strings.regex_full_match(inputs, BLANK_TEXT)


def _output(dtype, shape, description):
    return {"dtype": dtype, "shape": shape, "description": description}


class ServingModule(tf.Module):
    """Base class: the model, and the description of ``serve``'s input and outputs.

    Subclasses set ``input_description`` and ``outputs`` (name → dtype, shape, meaning) and
    define ``serve``; :func:`tfbig.exporting.manifest.write_manifest` documents them. A task's
``serving_module`` builds its module (``tfbig.tasks``).
    """

    input_description = ""
    outputs = {}
    example_input = 'tf.constant(["a short text"])'  # a first call, in the export's README

    def __init__(self, model, name):
        super().__init__(name=name)
        self.model = model

    def options(self):
        """Settings baked into the graph, for ``export.json`` (e.g. the decoding length)."""
        return {}

    @staticmethod
    def sample_inputs():
        """A small batch ``serve`` must answer (one blank input too): the export's check."""
        return tf.constant(["a short text", ""])


class TranslateServing(ServingModule):
    """Source texts → greedy translations, as ``TranslateTask.predict_texts``.

    Args:
        model: the run's :class:`tfbig.models.Transformer` or
            :class:`tfbig.models.RNNSeq2Seq` (anything ``generate`` decodes).
        source_tokenizer, target_tokenizer: the run's tokenizers.
        source_length: ``data.max_source_length`` (longer sources are cut, as in predict).
        max_new_tokens: the most tokens decoded per text.
    """

    input_description = "source texts, one per row (UTF-8)"
    example_input = 'tf.constant(["a sentence to translate"])'
    outputs = {"outputs": _output("string", [None], "greedy translation of each input")}

    def __init__(self, model, source_tokenizer, target_tokenizer, source_length,
                 max_new_tokens):
        super().__init__(model, name="translate_serving")
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.source_length = int(source_length)
        self.max_new_tokens = int(max_new_tokens)

    def options(self):
        return {"decoding": "greedy", "max_new_tokens": self.max_new_tokens,
                "max_source_tokens": self.source_length}

    @serving_function
    def serve(self, inputs):
        source_ids = to_fixed_length(self.source_tokenizer.tokenize(inputs),
                                     self.source_length)  # (B, T_s)
        new_tokens = generate(self.model, tf.cast(source_ids, tf.int32), self.max_new_tokens,
                              START_ID, END_ID)  # (B, N), 0 after [END]
        return {"outputs": tf.where(blank_texts(inputs), "",
                                    self.target_tokenizer.detokenize(new_tokens))}


class ContinuationServing(ServingModule):
    """Prompts → greedy continuations, as ``LanguageModelTask.predict_texts``.

    The prompt is ``[START]`` + the text's tokens, cut from the left to the ``keep`` tokens
    that leave room for ``max_new_tokens`` in the model's context. The graph pads every
    prompt to ``keep`` (predict pads to the batch's longest): a signature has one fixed
    prompt width, and each row continues after its own prompt either way.

    Args:
        model: the run's :class:`tfbig.models.GPT`.
        tokenizer: the run's tokenizer.
        max_new_tokens: the most tokens generated per prompt.
    """

    input_description = "prompts, one per row (UTF-8)"
    example_input = 'tf.constant(["the beginning of a text"])'
    outputs = {"outputs": _output("string", [None], "greedy continuation of each prompt "
                                                    "(the new text only)")}

    def __init__(self, model, tokenizer, max_new_tokens):
        super().__init__(model, name="lm_serving")
        self.tokenizer = tokenizer
        self.max_new_tokens = int(max_new_tokens)
        self.keep = int(model.max_sequence_length) - self.max_new_tokens + 1
        if self.keep < 1:
            raise TfbigError(f"--max-length {max_new_tokens} leaves no room for a prompt in "
                             f"the model's context of {model.max_sequence_length} tokens")

    def options(self):
        return {"decoding": "greedy", "max_new_tokens": self.max_new_tokens,
                "max_prompt_tokens": self.keep}

    @serving_function
    def serve(self, inputs):
        ids = self.tokenizer.tokenize(inputs)  # ragged (B, (P))
        starts = tf.RaggedTensor.from_tensor(tf.fill([ids.nrows(), 1], START_ID))
        prompts = tf.concat([starts, ids], axis=1)[:, -self.keep:]  # ragged (B, (≤ keep))
        prompt_ids = prompts.to_tensor(0, shape=[None, self.keep])  # (B, keep)
        new_tokens = generate(self.model, prompt_ids, self.max_new_tokens, START_ID, END_ID)
        return {"outputs": self.tokenizer.detokenize(new_tokens)}


class _LabelServing(ServingModule):
    """What the two classifiers share: logits → label names and probabilities."""

    outputs = {
        "labels": _output("string", [None], "the most likely class name of each input"),
        "probabilities": _output("float32", [None, "classes"],
                                 "softmax probability of each class, in the order of "
                                 "export.json's labels"),
    }

    def __init__(self, model, labels, name):
        super().__init__(model, name=name)
        self.label_names = list(labels)
        self.labels = tf.constant(self.label_names)  # (C,) string, class i is labels[i]

    def options(self):
        return {"labels": self.label_names}

    def _answer(self, logits, blank):
        """Labels and probabilities of ``logits``; ``""`` and zeros where ``blank``."""
        logits = tf.cast(logits, tf.float32)  # (B, C); float16 under mixed precision
        labels = tf.gather(self.labels, tf.argmax(logits, axis=-1))
        return {"labels": tf.where(blank, "", labels),
                "probabilities": tf.where(blank[:, None], 0.0, tf.nn.softmax(logits, axis=-1))}


class ClassifyServing(_LabelServing):
    """Texts → label names and probabilities, as ``ClassifyTask.predict_texts``.

    Args:
        model: the run's classifier (BERT, LSTM or CNN).
        tokenizer: the run's tokenizer (tfbig's or a Hugging Face BERT one).
        labels: the class names, class ``i`` first at ``i``.
        sequence_length: ``data.max_source_length``, ``[CLS]`` and ``[SEP]`` included.
    """

    input_description = "texts, one per row (UTF-8)"
    example_input = 'tf.constant(["a text to classify"])'

    def __init__(self, model, tokenizer, labels, sequence_length):
        super().__init__(model, labels, name="classify_serving")
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)

    def options(self):
        return {**super().options(), "max_tokens": self.sequence_length}

    @serving_function
    def serve(self, inputs):
        ids = add_cls_sep(self.tokenizer.tokenize(inputs), self.sequence_length - 2,
                          self.tokenizer.cls_id, self.tokenizer.sep_id)
        token_ids = tf.cast(to_fixed_length(ids, self.sequence_length), tf.int32)  # (B, T)
        logits = self.model({"token_ids": token_ids, "padding_mask": token_ids != 0},
                            training=False)
        return self._answer(logits, blank=blank_texts(inputs))


class ImageServing(_LabelServing):
    """Encoded images → class names and probabilities, as ``ImageTask.predict_texts``.

    Each image is decoded and resized as the run's pipeline did
    (:func:`tfbig.data.pipeline_image.decode_image_bytes`); pixels stay 0..255 (the model
    rescales). An empty string (predict's blank line) gives label ``""`` and zero
    probabilities; bytes that are not an image make the call fail.

    Args:
        model: the run's ViT or CNN.
        labels: the class names.
        image_size: ``data.image_size`` (square).
        channels: 3 (RGB).
    """

    input_description = "encoded images (PNG, JPEG, GIF or BMP file bytes), one per row"
    example_input = 'tf.constant([open("picture.png", "rb").read()])'

    @staticmethod
    def sample_inputs():
        return tf.stack([tf.io.encode_png(tf.zeros([8, 8, 3], tf.uint8)), tf.constant(b"")])

    def __init__(self, model, labels, image_size, channels):
        super().__init__(model, labels, name="image_serving")
        self.image_size = int(image_size)
        self.channels = int(channels)

    def options(self):
        return {**super().options(), "image_size": self.image_size,
                "channels": self.channels}

    @serving_function
    def serve(self, inputs):
        size, channels = (self.image_size, self.image_size), self.channels
        blank = tf.equal(tf.strings.length(inputs), 0)  # (B,)

        def decode(data):
            return tf.cond(tf.equal(tf.strings.length(data), 0),
                           lambda: tf.zeros([*size, channels], tf.float32),
                           lambda: decode_image_bytes(data, size, channels))

        images = tf.map_fn(decode, inputs, fn_output_signature=tf.TensorSpec(
            [*size, channels], tf.float32))  # (B, S, S, C), 0..255
        return self._answer(self.model(images, training=False), blank)


class AudioServing(_LabelServing):
    """WAV files' bytes → class names and probabilities, as ``AudioTask.predict_texts``.

    Everything runs in the graph, as the run's evaluation pipeline
    (:func:`tfbig.data.pipeline_audio.audio_dataset` with ``training=False``) does it: the
    RIFF header is parsed and the samples decoded (:func:`tfbig.data.wav_bytes.
    decode_wav_bytes`: every WAV encoding training reads, any channels, averaged to mono),
    resampled to the run's rate, cropped or zero-padded to ``clip_seconds`` around the
    centre, turned into a log-mel spectrogram and normalised. An empty string (predict's
    blank line) gives label ``""`` and zero probabilities; bytes that are not such a WAV
    file make the call fail with an ``InvalidArgumentError`` saying why.

    Args:
        model: the run's ``AudioCNN`` or ``AudioTransformer``.
        labels: the class names.
        sample_rate: ``data.sample_rate`` (Hz).
        clip_seconds: ``data.clip_seconds``.
        num_mels: mel bands of the features.
    """

    input_description = ("WAV files' bytes (8/16/24/32-bit integer or 32/64-bit float PCM, "
                         "any rate, any channels), one per row")
    example_input = 'tf.constant([open("clip.wav", "rb").read()])'

    @staticmethod
    def sample_inputs():
        header = (b"RIFF" + (36 + 1600).to_bytes(4, "little") + b"WAVEfmt "
                  + bytes.fromhex("10000000 0100 0100 401f0000 803e0000 0200 1000")
                  + b"data" + (1600).to_bytes(4, "little"))  # 16-bit mono, 8 kHz
        return tf.constant([header + b"\0" * 1600, b""])  # 0.1 s of silence, a blank

    def __init__(self, model, labels, sample_rate, clip_seconds,
                 num_mels=audio_features.NUM_MELS):
        super().__init__(model, labels, name="audio_serving")
        self.sample_rate = int(sample_rate)
        self.clip_seconds = float(clip_seconds)
        self.num_mels = int(num_mels)
        self.num_samples = round(self.clip_seconds * self.sample_rate)
        self.num_frames = audio_features.num_frames(self.num_samples, self.sample_rate)

    def options(self):
        return {**super().options(), "sample_rate": self.sample_rate,
                "clip_seconds": self.clip_seconds, "num_mels": self.num_mels}

    def _features(self, data):
        audio = decode_wav_bytes(data, self.sample_rate)  # (samples,) at the run's rate
        audio = audio_features.fit_duration(audio, self.num_samples)  # centred
        log_mel = audio_features.log_mel_spectrogram(audio, self.sample_rate,
                                                     num_mels=self.num_mels)
        return audio_features.normalize_utterance(log_mel)  # (frames, mels)

    @serving_function
    def serve(self, inputs):
        shape = [self.num_frames, self.num_mels]
        blank = tf.equal(tf.strings.length(inputs), 0)  # (B,)

        def features(data):
            return tf.cond(tf.equal(tf.strings.length(data), 0),
                           lambda: tf.zeros(shape, tf.float32), lambda: self._features(data))

        spectrograms = tf.map_fn(features, inputs, fn_output_signature=tf.TensorSpec(
            shape, tf.float32))  # (B, frames, mels)
        return self._answer(self.model(spectrograms, training=False), blank)


class MaskFillingServing(ServingModule):
    """Texts with ``[MASK]`` → each mask filled, as ``MaskedLMTask.predict_texts`` (see
    :mod:`tfbig.exporting.mask_filling`).

    Args:
        model: the run's :class:`tfbig.models.BertMaskedLM`.
        tokenizer: the run's tokenizer.
    """

    input_description = "texts, one per row (UTF-8); the literal text [MASK] marks a blank"
    example_input = 'tf.constant(["a text with a [MASK] to fill"])'
    outputs = {"outputs": _output(
        "string", [None], "the input with each [MASK] replaced by the most likely learned "
                          "token (masks beyond the model's longest input stay [MASK])")}

    @staticmethod
    def sample_inputs():
        return tf.constant(["a [MASK] text", ""])

    def __init__(self, model, tokenizer):
        super().__init__(model, name="mlm_serving")
        self.tokenizer = tokenizer
        self.longest = int(model.encoder.max_sequence_length)
        self.vocabulary = tf.constant(tokenizer.vocabulary)  # (V,) id → token

    def options(self):
        return {"decoding": "argmax", "max_tokens": self.longest}

    @serving_function
    def serve(self, inputs):
        parts = mask_filling.split_at_masks(inputs)  # ragged (B, (P)) strings
        token_ids = mask_filling.masked_token_ids(parts, self.tokenizer, self.longest)
        logits = self.model({"token_ids": token_ids, "padding_mask": token_ids != 0},
                            training=False)  # (B, T, V)
        best = mask_filling.best_learned_tokens(logits)  # (B, T)
        filled = mask_filling.fill_masks(parts, token_ids, best, self.vocabulary,
                                         self.tokenizer.mask_id)
        return {"outputs": tf.where(blank_texts(inputs), "", filled)}
