"""The image classification task.

Data: a folder of ``class_name/*.png|*.jpg`` images; the class names are the folder names
(sorted, saved as ``labels.json``). Every image is resized to ``data.image_size`` squared,
RGB, pixels 0..255 (the models rescale). Models: the Vision Transformer (default,
``model.patch_size``) or a small VGG-style CNN. Loss: sparse categorical cross-entropy;
metric: accuracy. Final metrics: accuracy, top-k accuracy (k = min(5, classes)), macro F1,
per-class scores and the confusion matrix; plots of the last two.

Augmentation (``data.augment``, the fields of ``tfbig.data.augment_image.ImageAugmentConfig``):
per image ``flip_rate``, ``rotation``, ``zoom``, ``crop_padding``, ``contrast``; per
training batch MixUp (``mixup_alpha``) and CutMix (``cutmix_alpha``), each example mixed
with probability ``mix_rate``, e.g. ``--set data.augment='{flip_rate: 0.5, mixup_alpha:
0.2}'``. Mixing makes the labels soft rows of class weights, so those runs train with
categorical cross-entropy and categorical accuracy (``accuracy`` still: ``val_accuracy``
and ``train.monitor`` keep their names) on label rows: mixed in training, one-hot in
validation.

Predict: each input line is an image path; the output line is its class name (a blank
line gives a blank line).
"""

from tfbig.data.sources import list_images
from tfbig.errors import TfbigError
from tfbig.tasks.class_folder_task import ClassFolderTask

CHANNELS = 3


def cnn_filters(width):
    """The CNN's three stages for ``model.d_model = width``: ``(width/4, width/2, width)``."""
    return tuple(max(width // 2 ** stage, 1) for stage in (2, 1, 0))


class ImageTask(ClassFolderTask):
    """Everything the image task needs, from the class folders to predicted class names.

    Args:
        config: a resolved :class:`tfbig.config.RunConfig` with ``task="image"``.
    """

    name = "image"
    models = ("vit", "cnn")
    sample_data = "shapes"
    list_folder = staticmethod(list_images)
    input_files = ".png/.jpg"
    monitor = ("val_accuracy", "max")
    # Image runs are short (~100 steps an epoch at most on the samples), so they warm up
    # briefly and decay by cosine; the ViT sees 32-pixel images as 4 × 4 patches of 8
    # (patches of 4 took 2.5× as long for no gain). Measured on data/shapes: CNN 0.99, ViT
    # 0.85 test accuracy (chance 0.33).
    defaults = {
        "": {"train.schedule": "cosine", "train.warmup_steps": 50, "train.learning_rate": 3e-3,
             "train.batch_size": 32, "train.epochs": 20, "data.augment": {"flip_rate": 0.5}},
        "vit": {"model.patch_size": 8, "train.learning_rate": 1e-3, "train.batch_size": 16,
                "train.epochs": 60},
    }

    def __init__(self, config):
        super().__init__(config)
        size, patch = config.data.image_size, config.model.patch_size
        if config.model_name == "vit" and size % patch:
            raise TfbigError(f"config field data.image_size={size} is not divisible by "
                             f"model.patch_size={patch}: the ViT cuts images into whole "
                             f"patches; change one of them")

    def check_augment(self):
        """``data.augment`` holds ``ImageAugmentConfig`` strengths (flip_rate, rotation, zoom,
        crop_padding, contrast, mixup_alpha, cutmix_alpha, mix_rate); a bad one fails here,
        named as its ``data.augment`` field."""
        self._augment_config()

    def _augment_config(self):
        rates = self.config.data.augment
        if not rates:
            return None
        import dataclasses

        from tfbig.data.augment_image_config import ImageAugmentConfig

        names = [field.name for field in dataclasses.fields(ImageAugmentConfig)
                 if field.name not in ("flip_mode", "fill_mode")]
        unknown = sorted(set(rates) - set(names))
        if unknown:
            raise TfbigError(f"unknown image augmentation {unknown[0]!r}; valid keys: "
                             f"{', '.join(names)}")
        try:
            config = ImageAugmentConfig(**rates)
        except TfbigError as error:  # name the field as the user wrote it
            message = str(error).replace("ImageAugmentConfig.", "data.augment.")
            raise TfbigError(message) from None
        if "mix_rate" in rates and not config.mixes:
            raise TfbigError(f"data.augment.mix_rate={config.mix_rate!r} is the share of "
                             f"examples MixUp/CutMix mix, but both are off; set "
                             f"data.augment.mixup_alpha or cutmix_alpha > 0, or remove "
                             f"mix_rate")
        return config

    @property
    def mixes(self):
        """Whether training mixes images (MixUp/CutMix): the labels are then class-weight rows
        ``[B, classes]``, not ids."""
        config = self._augment_config()
        return config is not None and config.mixes

    def loss_and_metrics(self):
        """Sparse cross-entropy and accuracy on label ids; with MixUp/CutMix their categorical
        forms, which take label rows (soft in training, one-hot in validation)."""
        if not self.mixes:
            return super().loss_and_metrics()
        import keras

        # CategoricalAccuracy compares argmaxes: a mixed row counts its larger share as the
        # class. Named "accuracy" so val_accuracy and train.monitor keep working.
        return (keras.losses.CategoricalCrossentropy(from_logits=True),
                [keras.metrics.CategoricalAccuracy(name="accuracy")])

    def resolve_lengths(self, train_examples):
        return self.config  # images have a fixed size: nothing to resolve

    def dataset(self, examples, *, training, batch_size=None):
        """Batches ``(images float32 [B, S, S, 3] in 0..255, labels)``: label ids int32
        ``[B]``, or with MixUp/CutMix float32 rows ``[B, classes]`` summing to 1: mixed when
        ``training``, one-hot otherwise.

        Why one-hot outside training: Keras' ``fit`` scores the validation batches with the
        compiled loss and metrics that train, and a categorical loss takes no ids. The
        categorical cross-entropy of a one-hot row is the sparse cross-entropy of its id, so
        ``val_loss`` and ``val_accuracy`` mean what they mean in a run without mixing.
        (``logits``, predict and the final metrics read the images only.)
        """
        from tfbig.data.pipeline_image import image_dataset

        data, train = self.config.data, self.config.train
        label_ids, augment = self.label_ids, self._augment_config()
        return image_dataset(
            [path for path, _ in examples], [label_ids[label] for _, label in examples],
            image_size=(data.image_size, data.image_size),
            batch_size=batch_size or train.batch_size, shuffle=training, seed=train.seed,
            augment=augment if training else None, channels=CHANNELS,
            num_classes=len(self.labels), shuffle_buffer=data.shuffle_buffer,
            repeat=training and train.steps_per_epoch > 0, drop_remainder=training,
            one_hot=augment is not None and augment.mixes)

    def tokens_per_step(self):
        """Images per train step (the run's "tokens/s" counts images)."""
        return self.config.train.batch_size

    # ------------------------------------------------------------------------------- model
    def build_model(self):
        """The ViT at ``config.model``'s sizes, or the CNN with ``cnn_filters(d_model)``."""
        from tfbig.models.build import build_model

        model, size = self.config.model, self.config.data.image_size
        common = dict(num_classes=len(self.labels), image_size=size, channels=CHANNELS,
                      dropout=model.dropout_rate)
        if self.config.model_name == "vit":
            classifier = build_model(
                "vit", patch_size=model.patch_size, num_layers=model.num_layers,
                num_heads=model.num_heads, hidden_dim=model.d_model,
                intermediate_dim=model.dff, **common)
        else:
            classifier = build_model("image_cnn", filters=cnn_filters(model.d_model),
                                     **common)
        classifier.build((None, size, size, CHANNELS))
        return classifier

    # ------------------------------------------------------------------- predict, evaluate
    def predict_texts(self, model, texts, *, method="greedy", max_length=None, batch_size=64,
                      **sampling):
        """The class name of each image path (blank lines stay blank:
        :mod:`tfbig.tasks.blank_lines`)."""
        from tfbig.tasks.blank_lines import answer_non_blank

        self.check_inputs(texts)
        paths = [text.strip() for text in texts]

        def classify(wanted):
            for path in wanted:
                self._check_decodable(path)
            logits = self.logits(model, [(path, self.labels[0]) for path in wanted],
                                 batch_size)
            return [self.labels[index] for index in logits.argmax(axis=-1)]

        return answer_non_blank(paths, classify)

    def _check_decodable(self, path):
        import tensorflow as tf

        try:
            tf.io.decode_image(tf.io.read_file(path), channels=CHANNELS,
                               expand_animations=False)
        except tf.errors.InvalidArgumentError:
            raise TfbigError(f"{path}: cannot be decoded as an image (expected PNG, JPEG, "
                             f"GIF or BMP)") from None

    def serving_module(self, model, max_length=None):
        from tfbig.serving.modules import ImageServing

        self.check_no_max_length(max_length)
        return ImageServing(model, self.labels, self.config.data.image_size, CHANNELS)

