"""The audio classification task: which word (or sound) a WAV clip holds.

Data: a folder of ``class_name/*.wav`` files, the layout of keyword-spotting and spoken-digit
datasets; the class names are the folder names (sorted, saved as ``labels.json``). Every
header is checked before anything runs (``tfbig.data.audio_files.wav_info``): integer PCM of
8/16/24/32 bits or float of 32/64, any channels (averaged to mono), any rate (resampled to
the run's); anything else is refused in one line naming the file. Files of other suffixes
in a class folder are ignored, as the image task ignores non-images.

Two fields fit the clips to one shape, each taken from the training split when 0 and then
written into the run's ``config.json``:

- ``data.sample_rate``: Hz every clip is resampled to; 0 = the first training file's rate.
- ``data.clip_seconds``: every clip is cropped or zero-padded to this; 0 = the longest
  training clip (rounded up to 10 ms), so evaluation loses nothing of any training clip.

Features: 40-band log-mel spectrograms of 25 ms windows every 10 ms, normalised per clip
(``tfbig.data.audio_features``). Training crops/places each clip at a random offset and
applies SpecAugment (``data.augment``: the keys of ``augment_audio.spec_augment``, default
:data:`SPEC_AUGMENT`; ``--set data.augment={}`` turns it off); evaluation, predict and the
export take the centred window, unmasked.

Models: ``cnn`` (default, :class:`tfbig.models.AudioCNN`, filters ``d_model/4, d_model/2,
d_model``) and ``transformer`` (:class:`tfbig.models.AudioTransformer`: square spectrogram
patches of ``model.patch_size`` through the ViT encoder; not the translation Transformer,
which ``transformer`` names in the text tasks). Loss: sparse categorical cross-entropy;
metric: accuracy; at each epoch end macro F1/precision/recall; final metrics as the image
task's (accuracy, top-k, macro F1, per-class scores, confusion matrix and its plot).

Predict: each input line is a WAV path; the output line is ``label<TAB>probability`` (the
softmax probability of that label, 4 decimals); a blank line gives a blank line.
Export: a SavedModel taking WAV files' bytes (``tfbig.serving.modules.AudioServing``).
"""

import math

from tfbig.config import replace
from tfbig.data.audio_files import list_audio, wav_info
from tfbig.errors import TfbigError
from tfbig.tasks.class_folder_task import ClassFolderTask
from tfbig.tasks.image import cnn_filters  # the same three stages as the image CNN

# The training pipeline's SpecAugment policy (tfbig.data.pipeline_audio.SPEC_AUGMENT; a test
# keeps the two equal), written out here because config defaults are read before TensorFlow
# is imported: two time masks of up to 80 ms and two masks of up to 5 of the 40 mel bands.
SPEC_AUGMENT = {"time_width": 8, "time_masks": 2, "freq_width": 5, "freq_masks": 2}
_COUNTS = ("time_width", "time_masks", "freq_width", "freq_masks")  # ints >= 0
_AMOUNTS = ("noise_stddev", "mask_value")  # numbers (noise_stddev >= 0)


class AudioTask(ClassFolderTask):
    """Everything the audio task needs, from the class folders to predicted labels.

    Args:
        config: a resolved :class:`tfbig.config.RunConfig` with ``task="audio"``.
    """

    name = "audio"
    models = ("cnn", "transformer")
    sample_data = "audio"
    list_folder = staticmethod(list_audio)
    input_files = ".wav"
    monitor = ("val_accuracy", "max")
    # Short runs (15 steps an epoch on the sample) warm up briefly and decay by cosine. The
    # CNN at d_model 64 has 16/32/64 filters (25k parameters). The Transformer needs patches
    # of 4 (18 × 10 of them for 0.7 s) and more epochs: with patches of 8 and 60 epochs it
    # reached 0.82, with 4 and 40 epochs 0.86. Measured on the shipped sample (240 training
    # clips, 28 test): CNN 1.00 test accuracy in 20 epochs (chance 0.2); see data/README.md.
    defaults = {
        "": {"train.schedule": "cosine", "train.warmup_steps": 30, "train.learning_rate": 3e-3,
             "train.batch_size": 16, "train.epochs": 20, "data.augment": SPEC_AUGMENT},
        "cnn": {"model.d_model": 64, "model.dropout_rate": 0.2},
        "transformer": {"model.patch_size": 4, "model.d_model": 64, "model.dff": 128,
                        "model.num_heads": 4, "train.learning_rate": 1e-3, "train.epochs": 40},
    }

    def __init__(self, config):
        super().__init__(config)
        self._headers = {}  # path → WavInfo of every file read

    def check_augment(self):
        """``data.augment`` is the SpecAugment policy: ``time_width``, ``time_masks``,
        ``freq_width``, ``freq_masks`` (ints >= 0), ``noise_stddev`` (>= 0), ``mask_value``;
        {} = none."""
        rates = self.config.data.augment
        unknown = sorted(set(rates) - set(_COUNTS + _AMOUNTS))
        if unknown:
            raise TfbigError(f"unknown audio augmentation {unknown[0]!r}; valid keys: "
                             f"{', '.join(_COUNTS + _AMOUNTS)} (SpecAugment)")
        for key, value in rates.items():
            if key in _COUNTS and not (isinstance(value, int) and value >= 0):
                raise TfbigError(f"data.augment.{key}={value!r}: expected an int >= 0")
            if key == "noise_stddev" and value < 0:
                raise TfbigError(f"data.augment.{key}={value!r}: expected a number >= 0")

    # --------------------------------------------------------------------------------- data
    def check_file(self, path):
        """Every header is read and checked as the folder is listed: a bad file fails
        before training, named."""
        self._header(path)

    def _header(self, path):
        if path not in self._headers:
            self._headers[path] = wav_info(path)
        return self._headers[path]

    def resolve_lengths(self, train_examples):
        """``data.sample_rate`` (0 = the first training file's) and ``data.clip_seconds``
        (0 = the longest training clip, rounded up to 10 ms), into the config."""
        data = self.config.data
        headers = [self._header(path) for path, _ in train_examples]
        rate = data.sample_rate or headers[0].sample_rate
        seconds = data.clip_seconds or math.ceil(
            round(max(header.seconds for header in headers) * 100, 6)) / 100
        self.config = replace(self.config, data={"sample_rate": rate, "clip_seconds": seconds})
        return self.config

    def dataset(self, examples, *, training, batch_size=None):
        """Batches ``(log-mel float32 [B, frames, 40], label ids int32 [B])``: random crops
        and SpecAugment when ``training``, centred windows otherwise."""
        from tfbig.data.pipeline_audio import audio_dataset

        data, train = self.config.data, self.config.train
        label_ids = self.label_ids
        return audio_dataset(
            [path for path, _ in examples], [label_ids[label] for _, label in examples],
            sample_rate=data.sample_rate, duration=data.clip_seconds,
            batch_size=batch_size or train.batch_size, shuffle=training, seed=train.seed,
            training=training, spec_augment=dict(data.augment) or None,
            shuffle_buffer=data.shuffle_buffer,
            repeat=training and train.steps_per_epoch > 0, drop_remainder=training)

    def tokens_per_step(self):
        """Clips per train step (the run's "tokens/s" counts clips)."""
        return self.config.train.batch_size

    # ------------------------------------------------------------------------------- model
    @property
    def num_frames(self):
        """Spectrogram frames of one clip of ``data.clip_seconds``."""
        from tfbig.data.audio_features import num_frames

        rate = self.config.data.sample_rate
        return num_frames(round(self.config.data.clip_seconds * rate), rate)

    def build_model(self):
        """The CNN with ``cnn_filters(d_model)``, or the spectrogram Transformer at
        ``config.model``'s sizes (``build_model`` names them ``audio_cnn`` and
        ``audio_transformer``: ``cnn`` and ``transformer`` are the text models there)."""
        from tfbig.data.audio_features import NUM_MELS
        from tfbig.models.build import build_model

        model = self.config.model
        common = dict(num_classes=len(self.labels), num_mels=NUM_MELS,
                      dropout=model.dropout_rate)
        if self.config.model_name == "transformer":
            classifier = build_model(
                "audio_transformer", num_frames=self.num_frames, patch_size=model.patch_size,
                num_layers=model.num_layers, num_heads=model.num_heads,
                hidden_dim=model.d_model, intermediate_dim=model.dff, **common)
        else:
            classifier = build_model("audio_cnn", filters=cnn_filters(model.d_model), **common)
        classifier.build((None, self.num_frames, NUM_MELS))
        return classifier

    # ------------------------------------------------------------------- predict, evaluate
    def probabilities(self, model, paths, batch_size=None):
        """float32 ``[N, classes]`` softmax probabilities of the WAV files ``paths``."""
        import numpy as np

        logits = self.logits(model, [(path, self.labels[0]) for path in paths], batch_size)
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)

    def predict_texts(self, model, texts, *, method="greedy", max_length=None, batch_size=64,
                      **sampling):
        """``label<TAB>probability`` for each WAV path (blank lines stay blank:
        :mod:`tfbig.tasks.blank_lines`)."""
        from tfbig.tasks.blank_lines import answer_non_blank

        self.check_inputs(texts)
        paths = [text.strip() for text in texts]
        return answer_non_blank(paths, lambda wanted: [
            f"{self.labels[row.argmax()]}\t{row.max():.4f}"
            for row in self.probabilities(model, wanted, batch_size)])

    def serving_module(self, model, max_length=None):
        from tfbig.serving.modules import AudioServing

        self.check_no_max_length(max_length)
        data = self.config.data
        return AudioServing(model, self.labels, data.sample_rate, data.clip_seconds)

