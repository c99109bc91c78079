"""The Vision Transformer: an image is a sequence of patches, read by a Transformer encoder.

    images 0..255 → Rescaling to -1..1 → PatchEmbedding (patches + [class] token + positions)
    → dropout → N × pre-norm EncoderBlock (GELU) → LayerNorm → Dense on the [class] row
    (zero-initialised)

Reference: Dosovitskiy et al. 2020, "An Image is Worth 16x16 Words",
https://arxiv.org/abs/2010.11929
"""

import keras
from keras import ops

from tfbig.layers.dropout import Dropout
from tfbig.layers.encoder_block import EncoderBlock
from tfbig.layers.patch_embedding import PatchEmbedding
from tfbig.layers.validation import check_num_heads


def pre_norm_encoder(num_layers, hidden_dim, num_heads, intermediate_dim, dropout, dtype=None):
    """ViT's encoder: ``num_layers`` pre-norm GELU ``EncoderBlock``s (``block_i``) and the final
    LayerNorm (``final_norm``), both with ε = 1e-6 as in the paper; the audio Transformer
    shares it."""
    blocks = [EncoderBlock(hidden_dim, num_heads, intermediate_dim, dropout, activation="gelu",
                           norm_first=True, layer_norm_epsilon=1e-6, name=f"block_{i}",
                           dtype=dtype)
              for i in range(num_layers)]
    return blocks, keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm", dtype=dtype)


@keras.saving.register_keras_serializable(package="tfbig")
class ViT(keras.Model):
    """Float images ``[B, H, W, C]`` in 0..255 → float32 logits ``[B, num_classes]``.

    Args:
        num_classes: number of labels.
        image_size: ``H`` (square) or ``(H, W)``, divisible by ``patch_size``.
        patch_size: side of the square patches (16 in ViT-B/16).
        num_layers: encoder blocks.
        num_heads: attention heads; must divide ``hidden_dim``.
        hidden_dim: model width.
        intermediate_dim: feed-forward inner size (the paper's "MLP size").
        channels: image channels.
        dropout: dropout on the embeddings, residual branches and attention weights.

    Example:
        >>> import numpy as np
        >>> model = ViT(num_classes=3, image_size=8, patch_size=4, num_layers=1,
        ...             num_heads=2, hidden_dim=8, intermediate_dim=16)
        >>> tuple(model(np.zeros((2, 8, 8, 3), "float32")).shape)
        (2, 3)

    Reference: Dosovitskiy et al. 2020, https://arxiv.org/abs/2010.11929
    """

    def __init__(self, num_classes, image_size, patch_size, num_layers, num_heads, hidden_dim,
                 intermediate_dim, channels=3, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        check_num_heads(hidden_dim, num_heads, "hidden_dim")
        self.num_classes = num_classes
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.channels = channels
        self.dropout = dropout

        dtype = self.dtype_policy
        # Pixels to -1..1, as the paper's models are fed (big_vision's value_range(-1, 1)).
        # Centred, a dark and a light patch of one hue embed to opposite vectors; at 0..1
        # they are positive multiples of one vector, which LayerNorm makes equal. On the
        # shapes sample this cut the ViT's start at chance from ~20 epochs to ~8 and took
        # a 40-epoch run from about 0.4 to 0.6 test accuracy.
        self.rescaling = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescaling",
                                                dtype=dtype)
        self.patch_embedding = PatchEmbedding(
            image_size, patch_size, hidden_dim, channels, name="patch_embedding", dtype=dtype)
        self.embedding_dropout = Dropout(dropout, name="embedding_dropout")
        self.blocks, self.final_norm = pre_norm_encoder(
            num_layers, hidden_dim, num_heads, intermediate_dim, dropout, dtype)
        # A zero head, as in the paper's fine-tuning and big_vision (head_zeroinit): every
        # image starts at chance, not at random confident logits that the first, large
        # steps must unlearn. With a random head, 2 short runs in 10 (32 steps at 3e-3,
        # tests/tasks/test_image.py) collapsed to predicting one class; zero: none in 28.
        self.classifier = keras.layers.Dense(num_classes, kernel_initializer="zeros",
                                             name="classifier", dtype=dtype)

    def build(self, input_shape=None):
        self.patch_embedding.build(input_shape)
        hidden_shape = (None, 1 + self.patch_embedding.num_patches, self.hidden_dim)
        for block in self.blocks:
            block.build(hidden_shape)
        self.final_norm.build(hidden_shape)
        self.classifier.build((None, self.hidden_dim))
        self.built = True

    def call(self, images, training=None):
        x = self.patch_embedding(self.rescaling(images))  # (B, 1 + N, D)
        x = self.embedding_dropout(x, training=training)
        for block in self.blocks:
            x = block(x, training=training)  # every patch sees every patch: no mask
        x = self.final_norm(x)
        logits = self.classifier(x[:, 0])  # the [class] token's row
        return ops.cast(logits, "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, image_size=self.image_size,
            patch_size=self.patch_size, num_layers=self.num_layers, num_heads=self.num_heads,
            hidden_dim=self.hidden_dim, intermediate_dim=self.intermediate_dim,
            channels=self.channels, dropout=self.dropout)
        return config
