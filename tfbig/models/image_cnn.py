"""A small convolutional image classifier (VGG-style stages with batch normalisation).

    images 0..255 → Rescaling(1/255)
    → per stage: Conv 3×3 → BatchNorm → ReLU → MaxPool 2×2
    → global average pooling → dropout → Dense(num_classes)

References: Simonyan & Zisserman 2014, https://arxiv.org/abs/1409.1556;
Ioffe & Szegedy 2015 (batch normalisation), https://arxiv.org/abs/1502.03167
"""

import keras
from keras import ops

from tfbig.layers.dropout import Dropout
from tfbig.layers.patch_embedding import image_size_pair


@keras.saving.register_keras_serializable(package="tfbig")
class ImageCNN(keras.Model):
    """Float images ``[B, H, W, C]`` in 0..255 → float32 logits ``[B, num_classes]``.

    Args:
        num_classes: number of labels.
        image_size: ``H`` (square) or ``(H, W)``.
        channels: ``C`` (3 for RGB, 1 for grey).
        filters: convolution filters of each stage; each stage halves the resolution.
        dropout: dropout before the classification layer.
        batch_norm_momentum: how much of the moving mean/variance each training step keeps.
            0.9, not Keras' 0.99: the moving variance starts at 1, a hundred times that of
            the first convolution's outputs on 0..1 pixels (~0.01), so at 0.99 it takes
            ~700 steps (0.99^700 ≈ 0.001) to forget its start, at 0.9 ~70. A short run
            at 0.99 evaluates with wrong statistics: test accuracy near chance while
            training accuracy climbs.

    Example:
        >>> import numpy as np
        >>> model = ImageCNN(num_classes=3, image_size=16, filters=(4, 8))
        >>> tuple(model(np.zeros((2, 16, 16, 3), "float32")).shape)
        (2, 3)

    Reference: Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167
    """

    def __init__(self, num_classes, image_size, channels=3, filters=(32, 64, 128),
                 dropout=0.3, batch_norm_momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.image_size = image_size
        self.channels = channels
        self.filters = tuple(filters)
        self.dropout = dropout
        self.batch_norm_momentum = batch_norm_momentum

        dtype = self.dtype_policy
        self.rescaling = keras.layers.Rescaling(1.0 / 255, name="rescaling", dtype=dtype)
        self.convolutions = [
            keras.layers.Conv2D(size, 3, padding="same", use_bias=False, name=f"conv_{i}",
                                dtype=dtype)
            for i, size in enumerate(self.filters)
        ]
        self.batch_norms = [
            keras.layers.BatchNormalization(momentum=batch_norm_momentum,
                                            name=f"batch_norm_{i}", dtype=dtype)
            for i in range(len(self.filters))
        ]
        self.pool = keras.layers.MaxPooling2D(2, padding="same", name="pool", dtype=dtype)
        self.global_pool = keras.layers.GlobalAveragePooling2D(name="global_pool", dtype=dtype)
        self.head_dropout = Dropout(dropout, name="head_dropout")
        self.classifier = keras.layers.Dense(num_classes, name="classifier", dtype=dtype)

    def build(self, input_shape=None):
        height, width = image_size_pair(self.image_size)
        shape = (None, height, width, self.channels)
        for convolution, batch_norm in zip(self.convolutions, self.batch_norms):
            convolution.build(shape)
            shape = convolution.compute_output_shape(shape)
            batch_norm.build(shape)
            shape = self.pool.compute_output_shape(shape)
        self.classifier.build((None, self.filters[-1]))
        self.built = True

    def call(self, images, training=None):
        x = self.rescaling(images)  # (B, H, W, C) in 0..1
        for convolution, batch_norm in zip(self.convolutions, self.batch_norms):
            x = batch_norm(convolution(x), training=training)
            x = self.pool(keras.activations.relu(x))  # (B, H/2^i, W/2^i, filters[i])
        x = self.global_pool(x)  # (B, filters[-1])
        logits = self.classifier(self.head_dropout(x, training=training))
        return ops.cast(logits, "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, image_size=self.image_size, channels=self.channels,
            filters=list(self.filters), dropout=self.dropout,
            batch_norm_momentum=self.batch_norm_momentum)
        return config
