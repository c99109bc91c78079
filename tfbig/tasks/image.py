"""The image classification task.

Data: a folder of ``class_name/*.png|*.jpg`` images; the class names are the folder names
(sorted, saved as ``labels.json``). Every image is resized to ``data.image_size`` squared,
RGB, pixels 0..255 (the models rescale). Models: the Vision Transformer (default,
``model.patch_size``) or a small VGG-style CNN. Loss: sparse categorical cross-entropy;
metric: accuracy. Final metrics: accuracy, top-k accuracy (k = min(5, classes)), macro F1,
per-class scores and the confusion matrix; plots of the last two.

Predict: each input line is an image path; the output line is its class name (a blank
line gives a blank line).
"""

import os

from tfbig.errors import TfbigError
from tfbig.tasks.class_scores import ClassScoresTask
from tfbig.tasks.classify import write_classification_plots
from tfbig.tasks.data_files import data_path
from tfbig.tasks.labels import (check_labels, check_split_labels, learn_labels, load_labels,
                                save_labels)

CHANNELS = 3


def cnn_filters(width):
    """The CNN's three stages for ``model.d_model = width``: ``(width/4, width/2, width)``."""
    return tuple(max(width // 2 ** stage, 1) for stage in (2, 1, 0))


class ImageTask(ClassScoresTask):
    """Everything the image task needs, from the class folders to predicted class names.

    Args:
        config: a resolved :class:`tfbig.config.RunConfig` with ``task="image"``.
    """

    name = "image"
    models = ("vit", "cnn")
    monitor = ("val_accuracy", "max")

    def __init__(self, config):
        super().__init__(config)
        size, patch = config.data.image_size, config.model.patch_size
        if config.model_name == "vit" and size % patch:
            raise TfbigError(f"config field data.image_size={size} is not divisible by "
                             f"model.patch_size={patch}: the ViT cuts images into whole "
                             f"patches; change one of them")
        self.labels = None
        self._scored = None  # (examples, y_true, y_pred, report) of the last final_metrics

    def check_augment(self):
        """``data.augment`` holds ``ImageAugmentConfig`` strengths (flip_rate, rotation,
        zoom, crop_padding, contrast); MixUp/CutMix need soft labels and are refused."""
        self._augment_config()

    def _augment_config(self):
        rates = self.config.data.augment
        if not rates:
            return None
        import dataclasses

        from tfbig.data.augment_image import ImageAugmentConfig  # (imports TensorFlow)

        names = [field.name for field in dataclasses.fields(ImageAugmentConfig)
                 if field.name not in ("flip_mode", "fill_mode")]
        unknown = sorted(set(rates) - set(names))
        if unknown:
            raise TfbigError(f"unknown image augmentation {unknown[0]!r}; valid keys: "
                             f"{', '.join(names)}")
        config = ImageAugmentConfig(**rates)
        if config.mixes:
            raise TfbigError("data.augment: MixUp/CutMix (mixup_alpha, cutmix_alpha) make soft "
                             "labels, which the image task's loss does not take; remove them")
        return config

    def read_examples(self, path, *, skip_bad_lines=False, report=None):
        """The folder's ``(image_path, class_name)`` pairs; once the run's labels are known
        (evaluate), a class folder outside them is an error."""
        examples = super().read_examples(path, skip_bad_lines=skip_bad_lines, report=report)
        if self.labels is not None:
            check_labels((label for _, label in examples), self.labels, path)
        return examples

    def split_key(self, path):
        """``class_name/file.png``: the split stays the same wherever the folder is moved."""
        return lambda example: os.path.relpath(example[0], path).replace(os.sep, "/")

    def load_splits(self):
        """Split the images; every validation/test class must occur in the training split."""
        splits, report = super().load_splits()
        check_split_labels(splits, lambda example: example[1], data_path(self.config),
                           self.config.data.val_path)
        return splits, report

    def learn_assets(self, train_examples):
        self.labels = learn_labels(label for _, label in train_examples)

    def resolve_lengths(self, train_examples):
        return self.config  # images have a fixed size: nothing to resolve

    def save_assets(self, run_dir):
        save_labels(self.labels, run_dir)

    def load_assets(self, run_dir):
        self.labels = load_labels(run_dir)

    @property
    def label_ids(self):
        return {label: index for index, label in enumerate(self.labels)}

    def dataset(self, examples, *, training, batch_size=None):
        """Batches ``(images float32 [B, S, S, 3] in 0..255, label ids [B])``."""
        from tfbig.data.pipeline import image_dataset

        data, train = self.config.data, self.config.train
        label_ids = self.label_ids
        return image_dataset(
            [path for path, _ in examples], [label_ids[label] for _, label in examples],
            image_size=(data.image_size, data.image_size),
            batch_size=batch_size or train.batch_size, shuffle=training, seed=train.seed,
            augment=self._augment_config() if training else None, channels=CHANNELS,
            num_classes=len(self.labels), shuffle_buffer=data.shuffle_buffer,
            repeat=training and train.steps_per_epoch > 0, drop_remainder=training)

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
        """The class name of each image path (blank lines stay blank)."""
        paths = [text.strip() for text in texts]
        for number, path in enumerate(paths, start=1):
            if path and not os.path.isfile(path):
                raise TfbigError(f"input line {number}: {path}: no such image file "
                                 f"(expected one .png/.jpg path per line)")
        wanted = [path for path in paths if path]
        if not wanted:
            return ["" for _ in paths]
        for path in wanted:
            self._check_decodable(path)
        logits = self.logits(model, [(path, self.labels[0]) for path in wanted], batch_size)
        names = iter(self.labels[index] for index in logits.argmax(axis=-1))
        return [next(names) if path else "" for path in paths]

    def _check_decodable(self, path):
        import tensorflow as tf

        try:
            tf.io.decode_image(tf.io.read_file(path), channels=CHANNELS,
                               expand_animations=False)
        except tf.errors.InvalidArgumentError:
            raise TfbigError(f"{path}: cannot be decoded as an image (expected PNG, JPEG, "
                             f"GIF or BMP)") from None

    def final_metrics(self, model, examples):
        """Accuracy, top-k accuracy, macro F1, per-class scores, the confusion matrix and its
        most confused class pairs on ``examples``; rows hold path, label, prediction, loss
        (nats)."""
        import numpy as np

        from tfbig.scoring.classification import (classification_report, confusion_matrix,
                                                     most_confused_pairs, top_k_accuracy)

        logits = self.logits(model, examples)
        y_true = np.array([self.label_ids[label] for _, label in examples])
        y_pred = logits.argmax(axis=-1)
        log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
        losses = -log_probs[np.arange(len(y_true)), y_true]
        report = classification_report(y_true, y_pred, class_names=self.labels)
        self._scored = (examples, y_true, y_pred, report)
        k = min(5, len(self.labels))
        matrix = confusion_matrix(y_true, y_pred, num_classes=len(self.labels))
        metrics = {
            "examples": len(examples),
            "accuracy": report["accuracy"],
            f"top_{k}_accuracy": top_k_accuracy(y_true, logits, k),
            "macro_f1": report["macro"]["f1"],
            "cross_entropy": float(losses.mean()),
            "chance_accuracy": 1.0 / len(self.labels),
            "per_class": report["classes"],
            "confusion_matrix": matrix.tolist(),
            "most_confused": most_confused_pairs(matrix, self.labels),
        }
        rows = [{"path": path, "label": label, "prediction": self.labels[prediction],
                 "loss": float(loss)}
                for (path, label), prediction, loss in zip(examples, y_pred, losses)]
        return metrics, rows

    def write_plots(self, model, examples, folder):
        """The confusion matrix and per-class precision/recall/F1 bars of ``examples``."""
        return write_classification_plots(self, model, examples, folder)
