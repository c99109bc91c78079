"""What an exported model runs: one ``tf.Module`` per task, raw inputs in, answers out.

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
image      encoded PNG/JPEG/GIF/BMP    ``labels``, ``probabilities`` as classify; an empty
                                       input gives label ``""`` and zero probabilities
mlm        texts with ``[MASK]``       ``outputs`` [batch] string: each ``[MASK]`` filled
=========  ==========================  ==================================================
"""

import tensorflow as tf

from tfbig.data.batching import add_cls_sep, to_fixed_length
from tfbig.data.pipeline_image import decode_image_bytes
from tfbig.errors import TfbigError
from tfbig.exporting import mask_filling
from tfbig.generation import generate
from tfbig.special_tokens import END_ID, START_ID

INPUTS = tf.TensorSpec([None], tf.string, name="inputs")
# Plain tensor code with no Python control flow on tensors: autograph would only slow tracing.
serving_function = tf.function(input_signature=[INPUTS], autograph=False)


def _output(dtype, shape, description):
    return {"dtype": dtype, "shape": shape, "description": description}


class ServingModule(tf.Module):
    """Base class: the model, and the description of ``serve``'s input and outputs.

    Subclasses set ``input_description`` and ``outputs`` (name → dtype, shape, meaning) and
    define ``serve``; :func:`tfbig.exporting.manifest.write_manifest` documents them.
    """

    input_description = ""
    outputs = {}

    def __init__(self, model, name):
        super().__init__(name=name)
        self.model = model

    def options(self):
        """Settings baked into the graph, for ``export.json`` (e.g. the decoding length)."""
        return {}


class TranslateServing(ServingModule):
    """Source texts → greedy translations, as ``TranslateTask.predict_texts``.

    Args:
        model: the run's :class:`tfbig.models.Transformer`.
        source_tokenizer, target_tokenizer: the run's tokenizers.
        source_length: ``data.max_source_length`` (longer sources are cut, as in predict).
        max_new_tokens: the most tokens decoded per text.
    """

    input_description = "source texts, one per row (UTF-8)"
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
        return {"outputs": self.target_tokenizer.detokenize(new_tokens)}


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

    def _answer(self, logits):
        logits = tf.cast(logits, tf.float32)  # (B, C); float16 under mixed precision
        return {"labels": tf.gather(self.labels, tf.argmax(logits, axis=-1)),
                "probabilities": tf.nn.softmax(logits, axis=-1)}


class ClassifyServing(_LabelServing):
    """Texts → label names and probabilities, as ``ClassifyTask.predict_texts``.

    Args:
        model: the run's classifier (BERT, LSTM or CNN).
        tokenizer: the run's tokenizer (tfbig's or a Hugging Face BERT one).
        labels: the class names, class ``i`` first at ``i``.
        sequence_length: ``data.max_source_length``, ``[CLS]`` and ``[SEP]`` included.
    """

    input_description = "texts, one per row (UTF-8)"

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
        return self._answer(logits)


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
        answer = self._answer(self.model(images, training=False))
        return {"labels": tf.where(blank, "", answer["labels"]),
                "probabilities": tf.where(blank[:, None], 0.0, answer["probabilities"])}


class MaskFillingServing(ServingModule):
    """Texts with ``[MASK]`` → each mask filled, as ``MaskedLMTask.predict_texts`` (see
    :mod:`tfbig.exporting.mask_filling`).

    Args:
        model: the run's :class:`tfbig.models.BertMaskedLM`.
        tokenizer: the run's tokenizer.
    """

    input_description = "texts, one per row (UTF-8); the literal text [MASK] marks a blank"
    outputs = {"outputs": _output(
        "string", [None], "the input with each [MASK] replaced by the most likely learned "
                          "token (masks beyond the model's longest input stay [MASK])")}

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
        return {"outputs": mask_filling.fill_masks(parts, token_ids, best, self.vocabulary,
                                                   self.tokenizer.mask_id)}


def serving_module(task, model, max_length=None):
    """The :class:`ServingModule` of a loaded run (``tfbig.inference.load_run``).

    Args:
        task: the run's task, assets loaded.
        model: its model.
        max_length: tokens to generate at most (translate, lm); ``None``: the run's length,
            as ``predict`` uses.

    Raises:
        TfbigError: ``max_length`` for a task that generates nothing, or one that does not
            fit the model.
    """
    data = task.config.data
    if max_length is not None and task.name not in ("translate", "lm"):
        raise TfbigError(f"--max-length applies to translate and lm runs, not to a "
                         f"{task.name} run; leave it out")
    if task.name == "translate":
        max_new_tokens = max_length or data.max_target_length
        limit = getattr(model, "max_length", None)
        if limit is not None and max_new_tokens > limit:
            raise TfbigError(f"--max-length {max_new_tokens} is longer than the model's "
                             f"position table ({limit}); use at most {limit}")
        return TranslateServing(model, task.source_tokenizer, task.target_tokenizer,
                                data.max_source_length, max_new_tokens)
    if task.name == "lm":
        return ContinuationServing(model, task.tokenizer, max_length or data.max_source_length)
    if task.name == "classify":
        return ClassifyServing(model, task.tokenizer, task.labels, data.max_source_length)
    if task.name == "image":
        from tfbig.tasks.image import CHANNELS

        return ImageServing(model, task.labels, data.image_size, CHANNELS)
    if task.name == "mlm":
        return MaskFillingServing(model, task.tokenizer)
    raise TfbigError(f"exporting a {task.name} run is not supported; supported tasks: "
                     f"translate, lm, classify, image, mlm")
