"""ViT's input: cut the image into patches, embed each, prepend a class token, add positions.

A ``Conv2D`` with ``kernel_size = strides = patch_size`` is exactly "flatten each
``P x P x C`` patch and apply one shared linear map" — written as a convolution because it
is one op and needs no reshape of the image.

Reference: Dosovitskiy et al. 2020, section 3.1 (equation 1), https://arxiv.org/abs/2010.11929
"""

import keras
from keras import ops

from tfbig.errors import TfbigError


def image_size_pair(image_size):
    """``32`` or ``(32, 48)`` → ``(height, width)``."""
    if isinstance(image_size, int):
        return image_size, image_size
    height, width = image_size
    return int(height), int(width)


@keras.saving.register_keras_serializable(package="tfbig")
class PatchEmbedding(keras.layers.Layer):
    """Images ``[batch, H, W, C]`` → ``[batch, 1 + num_patches, hidden_dim]``.

    Row 0 is the learned class token; rows ``1 ..`` are the patches in raster order. A
    learned position vector is added to every row.

    Args:
        image_size: ``H`` (square) or ``(H, W)``; each must be divisible by ``patch_size``.
        patch_size: side ``P`` of the square patches.
        hidden_dim: embedding size.
        channels: ``C``.

    Example:
        >>> import numpy as np
        >>> layer = PatchEmbedding(image_size=8, patch_size=4, hidden_dim=16)
        >>> tuple(layer(np.zeros((2, 8, 8, 3), "float32")).shape)  # 1 + (8/4)**2 rows
        (2, 5, 16)

    Reference: Dosovitskiy et al. 2020, equation 1, https://arxiv.org/abs/2010.11929
    """

    def __init__(self, image_size, patch_size, hidden_dim, channels=3, **kwargs):
        super().__init__(**kwargs)
        height, width = image_size_pair(image_size)
        if height % patch_size or width % patch_size:
            raise TfbigError(
                f"image_size {image_size} must be divisible by patch_size ({patch_size}); "
                f"resize the images or pick a patch size that divides both sides")
        # (H, W) as a tuple: a list (what a reloaded config holds) gives the same config.
        self.image_size = image_size if isinstance(image_size, int) else (height, width)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.channels = channels
        self.num_patches = (height // patch_size) * (width // patch_size)
        self.projection = keras.layers.Conv2D(
            hidden_dim, kernel_size=patch_size, strides=patch_size, name="projection",
            dtype=self.dtype_policy)

    def build(self, input_shape):
        height, width = image_size_pair(self.image_size)
        self.projection.build((None, height, width, self.channels))
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        self.class_token = self.add_weight(
            shape=(1, 1, self.hidden_dim), initializer=initializer, name="class_token")
        self.position_embedding = self.add_weight(
            shape=(1, 1 + self.num_patches, self.hidden_dim), initializer=initializer,
            name="position_embedding")

    def call(self, images):
        patches = self.projection(images)  # (B, H/P, W/P, hidden)
        batch = ops.shape(patches)[0]
        patches = ops.reshape(patches, (batch, self.num_patches, self.hidden_dim))  # (B, N, D)
        class_token = ops.broadcast_to(
            ops.cast(self.class_token, patches.dtype), (batch, 1, self.hidden_dim))
        x = ops.concatenate([class_token, patches], axis=1)  # (B, 1 + N, D)
        return x + ops.cast(self.position_embedding, x.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1 + self.num_patches, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(image_size=self.image_size, patch_size=self.patch_size,
                      hidden_dim=self.hidden_dim, channels=self.channels)
        return config
