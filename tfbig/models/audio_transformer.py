"""The Audio Spectrogram Transformer: ViT's recipe on a log-mel spectrogram.

    log-mel [B, frames, mels] → add a channel axis → zero-pad to whole patches
    → PatchEmbedding (square patches + [class] token + positions) → dropout
    → N × pre-norm EncoderBlock (GELU) → LayerNorm
    → Dense on the [class] row (zero-initialised)

The same pieces as :class:`tfbig.models.ViT` (``PatchEmbedding``, ``EncoderBlock``, the zero
head; see vit.py for why each is so), minus the pixel rescaling: the features come
normalised per utterance. AST cuts overlapping 16×16 patches from 128 mel bands; here they
are non-overlapping (ViT's layer), for small inputs such as 40 bands.

Reference: Gong, Chung & Glass 2021, "AST: Audio Spectrogram Transformer",
https://arxiv.org/abs/2104.01778
"""

import keras
from keras import ops

from tfbig.errors import TfbigError
from tfbig.layers.dropout import Dropout
from tfbig.layers.patch_embedding import PatchEmbedding
from tfbig.layers.validation import check_num_heads
from tfbig.models.vit import pre_norm_encoder


def _whole_patches(size, patch_size):
    return -(-size // patch_size) * patch_size  # size rounded up to a multiple


@keras.saving.register_keras_serializable(package="tfbig")
class AudioTransformer(keras.Model):
    """Log-mel spectrograms ``[B, num_frames, num_mels]`` → float32 logits ``[B, num_classes]``.

    Args:
        num_classes: number of labels.
        num_frames: frames of every input (``audio_features.num_frames``); the position
            embeddings are learned for this many.
        num_mels: mel bands of the inputs.
        patch_size: side of the square patches, in frames and bands; the spectrogram is
            zero-padded (at the end of each axis) to whole patches.
        num_layers: encoder blocks.
        num_heads: attention heads; must divide ``hidden_dim``.
        hidden_dim: model width.
        intermediate_dim: feed-forward inner size.
        dropout: dropout on the embeddings, residual branches and attention weights.

    Example:
        >>> import numpy as np
        >>> model = AudioTransformer(num_classes=3, num_frames=10, num_mels=8, patch_size=4,
        ...                          num_layers=1, num_heads=2, hidden_dim=8,
        ...                          intermediate_dim=16)
        >>> tuple(model(np.zeros((2, 10, 8), "float32")).shape)
        (2, 3)

    Reference: Gong, Chung & Glass 2021, https://arxiv.org/abs/2104.01778
    """

    def __init__(self, num_classes, num_frames, num_mels, patch_size, num_layers, num_heads,
                 hidden_dim, intermediate_dim, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        check_num_heads(hidden_dim, num_heads, "hidden_dim")
        for name, value in (("num_frames", num_frames), ("num_mels", num_mels),
                            ("patch_size", patch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TfbigError(f"{name} must be a positive integer, received {value!r}")
        self.num_classes = num_classes
        self.num_frames = num_frames
        self.num_mels = num_mels
        self.patch_size = patch_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout

        dtype = self.dtype_policy
        self.padded_size = (_whole_patches(num_frames, patch_size),
                            _whole_patches(num_mels, patch_size))
        self.patch_embedding = PatchEmbedding(
            self.padded_size, patch_size, hidden_dim, channels=1, name="patch_embedding",
            dtype=dtype)
        self.embedding_dropout = Dropout(dropout, name="embedding_dropout")
        self.blocks, self.final_norm = pre_norm_encoder(
            num_layers, hidden_dim, num_heads, intermediate_dim, dropout, dtype)
        self.classifier = keras.layers.Dense(num_classes, kernel_initializer="zeros",
                                             name="classifier", dtype=dtype)

    def build(self, input_shape=None):
        self.patch_embedding.build((None, *self.padded_size, 1))
        hidden_shape = (None, 1 + self.patch_embedding.num_patches, self.hidden_dim)
        for block in self.blocks:
            block.build(hidden_shape)
        self.final_norm.build(hidden_shape)
        self.classifier.build((None, self.hidden_dim))
        self.built = True

    def call(self, spectrograms, training=None):
        x = ops.expand_dims(spectrograms, -1)  # (B, T, M, 1)
        extra_frames = self.padded_size[0] - self.num_frames
        extra_mels = self.padded_size[1] - self.num_mels
        x = ops.pad(x, [[0, 0], [0, extra_frames], [0, extra_mels], [0, 0]])  # whole patches
        x = self.patch_embedding(x)  # (B, 1 + N, D): [class] token, then patches
        x = self.embedding_dropout(x, training=training)
        for block in self.blocks:
            x = block(x, training=training)  # every patch sees every patch: no mask
        x = self.final_norm(x)
        logits = self.classifier(x[:, 0])  # the [class] token's row
        return ops.cast(logits, "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, num_frames=self.num_frames, num_mels=self.num_mels,
            patch_size=self.patch_size, num_layers=self.num_layers, num_heads=self.num_heads,
            hidden_dim=self.hidden_dim, intermediate_dim=self.intermediate_dim,
            dropout=self.dropout)
        return config
