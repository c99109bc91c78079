"""Image augmentation: pure ``(image, seed) -> image`` ops, and MixUp/CutMix on batches.

Images are float32 ``[H, W, C]`` with values in ``0..255`` (the ``image_dataset`` layout);
seeds are shape-``[2]`` integers, as ``tf.random.stateless_*`` ops take them.

Why not Keras' layers? ``keras.layers.RandomFlip``, ``RandomRotation``, ``RandomZoom``,
``RandomCrop``, ``RandomContrast``, ``MixUp`` and ``CutMix`` (Keras 3.15) take ``seed=`` but
draw from a ``SeedGenerator``: a counter *variable* that every call advances. Inside
``tf.data.Dataset.map`` with ``num_parallel_calls`` the elements reach that counter in no
fixed order, so the same seed gives different augmentations from run to run (tested:
two fresh ``RandomFlip(seed=1)`` layers disagree under a parallel map), and their
``seed`` argument accepts no per-example tensor (``keras.random`` rejects tensor seeds).
So the ops here are written with stateless TensorFlow ops, keyed per example by the
pipeline (``batching.example_seed``): ``tf.image.stateless_random_crop`` and
``stateless_random_contrast`` where TensorFlow has them, and for rotation and zoom the
same projective-transform kernel Keras' own layers run on the TensorFlow backend
(``ImageProjectiveTransformV3``), with the same conventions (factors as fractions of a full
turn, ``"reflect"`` filling). Keras' layers remain the right choice *inside a model*.

=================  ==================================================================
op                 what it does
=================  ==================================================================
random_flip        flip left-right (and/or up-down) with probability ``rate``
random_rotation    rotate by an angle in ``[-factor, factor]`` of a full turn
random_zoom        scale by ``[1 - factor, 1 + factor]`` about the centre (> 1 zooms in)
random_crop        pad by ``padding`` pixels (reflecting), crop back to the same size
random_contrast    ``(x - mean) · c + mean`` per channel, ``c`` in ``[1 - f, 1 + f]``
mix_up             batch: ``λ·x_i + (1 - λ)·x_j`` and the same mix of one-hot labels
cut_mix            batch: paste a box of ``x_j`` into ``x_i``; labels mixed by area
=================  ==================================================================

References: Zhang et al., "mixup: Beyond Empirical Risk Minimization", 2018,
https://arxiv.org/abs/1710.09412; Yun et al., "CutMix", 2019,
https://arxiv.org/abs/1905.04899.
"""

import math

import tensorflow as tf

# The strengths live in their own module, checked without TensorFlow (a run's config is
# checked before it loads); ImageAugmentConfig is imported from here too.
from tfbig.data.augment_image_config import (  # noqa: F401
    FILL_MODES, FLIP_MODES, ImageAugmentConfig)
from tfbig.data.rates import check_rate
from tfbig.errors import TfbigError


def _split(seed, num):
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=num))


def _uniform(seed, low=0.0, high=1.0, shape=()):
    return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high)


def random_flip(image, seed, *, mode="horizontal", rate=0.5):
    """Flip left-right and/or up-down, each with probability ``rate``."""
    if mode not in FLIP_MODES:
        raise TfbigError(f"flip mode {mode!r}: expected one of {', '.join(FLIP_MODES)}")
    check_rate("rate", rate, allow_one=True)
    horizontal_seed, vertical_seed = _split(seed, 2)
    if mode != "vertical":
        image = tf.where(_uniform(horizontal_seed) < rate, tf.reverse(image, [-2]), image)
    if mode != "horizontal":
        image = tf.where(_uniform(vertical_seed) < rate, tf.reverse(image, [-3]), image)
    return image


def _transform(image, transform, fill_mode):
    """Resample ``image`` [H, W, C]: output pixel (x, y) reads input
    ``(a0 x + a1 y + a2, b0 x + b1 y + b2)`` for ``transform = [a0 a1 a2 b0 b1 b2 0 0]``."""
    if fill_mode not in FILL_MODES:
        raise TfbigError(f"fill_mode {fill_mode!r}: expected one of {', '.join(FILL_MODES)}")
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32)[None], transforms=tf.cast(transform, tf.float32)[None],
        output_shape=tf.shape(image)[:2], fill_value=0.0, interpolation="BILINEAR",
        fill_mode=fill_mode.upper())[0]


def _centre(image):
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    return (size[1] - 1) / 2, (size[0] - 1) / 2  # (x, y) of the middle, in pixels


def rotate(image, angle, *, fill_mode="reflect"):
    """Rotate ``image`` [H, W, C] by ``angle`` radians about its centre (counter-clockwise
    as displayed, for a positive angle: ``rotate(x, π/2)`` is ``np.rot90(x)``)."""
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = _centre(image)
    return _transform(image, [cos, -sin, cx - cos * cx + sin * cy,
                              sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0], fill_mode)


def random_rotation(image, seed, *, factor, fill_mode="reflect"):
    """Rotate by a uniform angle in ``[-factor, factor] · 2π`` (Keras' ``RandomRotation``
    convention: ``factor=0.1`` is up to ±36°)."""
    check_rate("factor", factor, allow_one=True)
    return rotate(image, _uniform(seed, -factor, factor) * 2 * math.pi, fill_mode=fill_mode)


def zoom(image, scale, *, fill_mode="reflect"):
    """Scale ``image`` [H, W, C] about its centre; ``scale > 1`` magnifies (zooms in)."""
    cx, cy = _centre(image)
    inverse = 1.0 / scale
    return _transform(image, [inverse, 0.0, cx - inverse * cx,
                              0.0, inverse, cy - inverse * cy, 0.0, 0.0], fill_mode)


def random_zoom(image, seed, *, factor, fill_mode="reflect"):
    """Zoom by a uniform scale in ``[1 - factor, 1 + factor]`` (> 1 zooms in)."""
    check_rate("factor", factor)
    return zoom(image, _uniform(seed, 1.0 - factor, 1.0 + factor), fill_mode=fill_mode)


def random_crop(image, seed, *, padding):
    """Pad each side by ``padding`` pixels (mirroring the edge), then crop a random window
    of the original size: a random shift of up to ``padding`` pixels (the CIFAR recipe)."""
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise TfbigError(f"padding={padding!r}: expected an int >= 0")
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]], mode="REFLECT")
    return tf.image.stateless_random_crop(padded, tf.shape(image), seed)


def random_contrast(image, seed, *, factor):
    """Scale each channel's deviation from its mean by ``c`` in ``[1 - factor, 1 + factor]``
    (as ``keras.layers.RandomContrast``), then clip to ``0..255``."""
    check_rate("factor", factor, allow_one=True)
    image = tf.image.stateless_random_contrast(image, 1.0 - factor, 1.0 + factor, seed)
    return tf.clip_by_value(image, 0.0, 255.0)


# ------------------------------------------------------------------------ batch mixing
def _beta(shape, alpha, seed):
    """Beta(alpha, alpha) samples as ``g1 / (g1 + g2)`` of two stateless Gamma draws."""
    first, second = _split(seed, 2)
    g1 = tf.random.stateless_gamma(shape, first, alpha)
    g2 = tf.random.stateless_gamma(shape, second, alpha)
    return g1 / tf.maximum(g1 + g2, 1e-12)


def _soft_labels(labels, num_classes):
    """int ``[B]`` → one-hot float32 ``[B, K]``; float ``[B, K]`` (already soft) as it is."""
    labels = tf.convert_to_tensor(labels)
    if labels.dtype.is_integer:
        return tf.one_hot(labels, num_classes, dtype=tf.float32)
    return tf.cast(labels, tf.float32)


def _mixing_draws(images, seed, alpha, rate):
    """Per-example weights λ ``[B]`` (1 where not mixed) and each example's partner ``[B]``."""
    batch = tf.shape(images)[0]  # [B, H, W, C]
    beta_seed, rate_seed, partner_seed = _split(seed, 3)
    weights = _beta([batch], alpha, beta_seed)
    weights = tf.where(_uniform(rate_seed, shape=[batch]) < rate, weights, 1.0)
    partners = tf.argsort(_uniform(partner_seed, shape=[batch]))  # a random permutation
    return weights, partners


def _check_mixing(alpha, rate):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
        raise TfbigError(f"alpha={alpha!r}: expected a number > 0")
    check_rate("rate", rate, allow_one=True)


def mix_up(images, labels, seed, *, num_classes, alpha=0.2, rate=1.0):
    """MixUp a batch: ``(images [B,H,W,C], soft labels float32 [B,K])``.

    Each example is mixed, with probability ``rate``, with a partner from the same batch (a
    random permutation): ``λ·x + (1 - λ)·x_partner`` with ``λ ~ Beta(alpha, alpha)``, and
    the same mix of the one-hot labels.
    """
    _check_mixing(alpha, rate)
    images, labels = tf.convert_to_tensor(images), _soft_labels(labels, num_classes)
    weights, partners = _mixing_draws(images, seed, alpha, rate)
    image_weights = weights[:, None, None, None]
    images = image_weights * images + (1 - image_weights) * tf.gather(images, partners)
    labels = weights[:, None] * labels + (1 - weights[:, None]) * tf.gather(labels, partners)
    return images, labels


def cut_mix(images, labels, seed, *, num_classes, alpha=1.0, rate=1.0):
    """CutMix a batch: ``(images [B,H,W,C], soft labels float32 [B,K])``.

    With probability ``rate`` an example gets a box of its partner's image pasted in: the box
    covers ``1 - λ`` of the area (``λ ~ Beta(alpha, alpha)``), centred uniformly and clipped
    at the border; the labels are mixed by the area actually pasted.
    """
    _check_mixing(alpha, rate)
    images, labels = tf.convert_to_tensor(images), _soft_labels(labels, num_classes)
    weights, partners = _mixing_draws(images, seed, alpha, rate)
    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    side = tf.sqrt(1.0 - weights)  # box side as a fraction of the image side, [B]
    centre_y = _uniform(tf.random.experimental.stateless_fold_in(seed, 1), shape=[shape[0]])
    centre_x = _uniform(tf.random.experimental.stateless_fold_in(seed, 2), shape=[shape[0]])

    def edges(centre, extent):  # [B] pixel bounds [low, high) of the box along one axis
        low = tf.clip_by_value(tf.round((centre - side / 2) * extent), 0.0, extent)
        high = tf.clip_by_value(tf.round((centre + side / 2) * extent), 0.0, extent)
        return low, high

    (top, bottom), (left, right) = edges(centre_y, height), edges(centre_x, width)
    rows = tf.range(height)[None, :, None]  # [1, H, 1]
    columns = tf.range(width)[None, None, :]  # [1, 1, W]
    box = ((rows >= top[:, None, None]) & (rows < bottom[:, None, None])
           & (columns >= left[:, None, None]) & (columns < right[:, None, None]))  # [B,H,W]
    images = tf.where(box[..., None], tf.gather(images, partners), images)
    kept = 1.0 - (bottom - top) * (right - left) / (height * width)  # [B]
    labels = kept[:, None] * labels + (1 - kept[:, None]) * tf.gather(labels, partners)
    return images, labels


# --------------------------------------------------------------------------- chained
def image_augmenter(config):
    """One ``(image, seed) -> image`` function: flip, rotation, zoom, crop, contrast, in
    that order, the enabled ones only; op ``k`` draws from ``stateless_fold_in(seed, k)``."""
    c = config
    steps = [
        (1, c.flip_rate > 0, lambda x, s: random_flip(x, s, mode=c.flip_mode, rate=c.flip_rate)),
        (2, c.rotation > 0, lambda x, s: random_rotation(x, s, factor=c.rotation,
                                                         fill_mode=c.fill_mode)),
        (3, c.zoom > 0, lambda x, s: random_zoom(x, s, factor=c.zoom, fill_mode=c.fill_mode)),
        (4, c.crop_padding > 0, lambda x, s: random_crop(x, s, padding=c.crop_padding)),
        (5, c.contrast > 0, lambda x, s: random_contrast(x, s, factor=c.contrast)),
    ]
    enabled = [(number, op) for number, on, op in steps if on]

    def augment(image, seed):
        for number, op in enabled:
            image = op(image, tf.random.experimental.stateless_fold_in(seed, number))
        return image

    return augment


def batch_mixer(config, num_classes):
    """``(images, labels, seed) -> (images, soft labels)``: MixUp then CutMix, the enabled
    ones (a CutMix of MixUp-ed images is still a valid mix of the labels); ``None`` if off."""
    if not config.mixes:
        return None

    def mix(images, labels, seed):
        labels = _soft_labels(labels, num_classes)
        if config.mixup_alpha > 0:
            images, labels = mix_up(images, labels, tf.random.experimental.stateless_fold_in(
                seed, 1), num_classes=num_classes, alpha=config.mixup_alpha,
                rate=config.mix_rate)
        if config.cutmix_alpha > 0:
            images, labels = cut_mix(images, labels, tf.random.experimental.stateless_fold_in(
                seed, 2), num_classes=num_classes, alpha=config.cutmix_alpha,
                rate=config.mix_rate)
        return images, labels

    return mix
