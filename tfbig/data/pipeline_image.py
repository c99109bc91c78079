"""The image pipeline: file paths in, ``(images float32 [B,H,W,C] 0..255, labels)`` out.

    paths, labels → decode + resize (parallel) → cache → [repeat] → enumerate → [shuffle]
    → enumerate → [augment each image] [one-hot label] → batch → [MixUp / CutMix each batch]
    → prefetch

Labels are ids, int32 ``[B]``, unless MixUp/CutMix mix them (training) or ``one_hot`` asks
for rows (evaluating a model trained so): then float32 ``[B, num_classes]`` summing to 1.

Pixels stay in ``0..255``: rescaling belongs to the model (``clean.rescale`` /
``keras.layers.Rescaling`` as its first layer), so an exported model takes raw pixels.
"""

import tensorflow as tf

from tfbig.data.augment_image import ImageAugmentConfig, batch_mixer, image_augmenter
from tfbig.data.batching import (AUGMENT, AUTOTUNE, MIXING, cache_dataset, example_seed,
                                 finish, resolve_seed, shuffle_keyed)
from tfbig.errors import TfbigError


def decode_image(path, image_size, channels=3):
    """Read one PNG/JPEG/GIF/BMP file → float32 ``[height, width, channels]`` in ``0..255``.

    ``channels`` is forced (grey → RGB, RGBA → RGB, ...), animations give their first frame,
    and the image is resized (bilinear) to ``image_size = (height, width)``.
    """
    return decode_image_bytes(tf.io.read_file(path), image_size, channels)


def decode_image_bytes(data, image_size, channels=3):
    """``decode_image`` of the file's encoded bytes (a scalar string): what an exported
    model applies to its inputs, so serving preprocesses exactly as training did."""
    image = tf.io.decode_image(data, channels=channels,
                               expand_animations=False)  # uint8 [h, w, channels]
    image = tf.image.resize(image, image_size)  # float32, values still 0..255
    return tf.ensure_shape(image, [*image_size, channels])


def image_dataset(paths, labels, *, image_size, batch_size, shuffle=False, seed=0,
                  augment=None, channels=3, num_classes=None, shuffle_buffer=10000,
                  repeat=False, drop_remainder=False, cache=True, one_hot=False):
    """Batches of ``(images float32 [B,H,W,C] in 0..255, labels int32 [B])``.

    Args:
        paths, labels: as ``sources.list_images`` returns them (file paths, int labels).
        image_size: ``(height, width)`` every image is resized to.
        batch_size: global batch size.
        shuffle: reshuffle every epoch, reproducibly from ``seed``.
        seed: seeds the shuffle and the augmentation; ``None`` for a fresh random one.
        augment: an ``ImageAugmentConfig``, or any ``(image, seed) -> image`` function for
            one ``[H, W, C]`` image. With MixUp or CutMix on (config only) the labels become
            soft: float32 ``[B, num_classes]``; train with categorical cross-entropy. Mixing
            is for training batches only: leave ``augment`` out when evaluating.
        channels: 3 (RGB) or 1 (grey).
        num_classes: for the soft labels of MixUp/CutMix; default ``max(labels) + 1``.
        shuffle_buffer, repeat, drop_remainder, cache: as in ``classification_dataset``
            (the cache holds decoded, resized images: ``H·W·C·4`` bytes each).
        one_hot: labels as one-hot float32 ``[B, num_classes]`` rows even when nothing mixes
            them: the evaluation batches of a model trained with MixUp/CutMix, whose loss
            takes rows, not ids.
    """
    seed, deterministic = resolve_seed(seed, shuffle)
    paths, labels = [str(p) for p in paths], [int(label) for label in labels]
    if not paths or len(paths) != len(labels):
        raise TfbigError(f"got {len(paths)} image paths and {len(labels)} labels; expected "
                         "the same, non-zero number of each")
    image_size = tuple(int(side) for side in image_size)
    if channels not in (1, 3):
        raise TfbigError(f"channels={channels!r}: expected 1 or 3")
    num_classes = num_classes or max(labels) + 1
    augment_one, mix = augment, None
    if isinstance(augment, ImageAugmentConfig):
        augment_one, mix = image_augmenter(augment), batch_mixer(augment, num_classes)
    elif augment is not None and not callable(augment):
        raise TfbigError(f"augment: expected an ImageAugmentConfig or an (image, seed) -> "
                         f"image function, got {type(augment).__name__}")
    if (one_hot or mix is not None) and not 0 <= min(labels) <= max(labels) < num_classes:
        raise TfbigError(f"labels run from {min(labels)} to {max(labels)}; one-hot rows need "
                         f"ids in [0, num_classes={num_classes})")

    dataset = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int32)))
    dataset = dataset.map(lambda path, label: (decode_image(path, image_size, channels), label),
                          num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    dataset = cache_dataset(dataset, cache)
    dataset = shuffle_keyed(dataset, shuffle=shuffle, seed=seed,
                            buffer_size=min(len(paths), shuffle_buffer), repeat=repeat)

    def augment_example(position, keyed):
        index, (image, label) = keyed
        if augment_one is not None:
            image = augment_one(image, example_seed(seed, AUGMENT, index, position))
        if one_hot:
            label = tf.one_hot(label, num_classes, dtype=tf.float32)  # [num_classes]
        return image, label

    dataset = dataset.map(augment_example, num_parallel_calls=AUTOTUNE,
                          deterministic=deterministic)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if mix is not None:  # one seed per batch: its position in the stream of batches
        dataset = dataset.enumerate().map(
            lambda position, batch: mix(*batch, example_seed(seed, MIXING, position, position)),
            num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    return finish(dataset)
