"""A small convolutional classifier of log-mel spectrograms (a spectrogram read as an image).

    log-mel [B, frames, mels] → add a channel axis
    → per stage: Conv 3×3 → BatchNorm → ReLU → MaxPool 2×2
    → average over time → flatten (bands × filters) → dropout → Dense(num_classes)

The pooling is global over time only: a word may start anywhere in the clip, but which
bands carry the energy (the formants) is what tells sounds apart, so the frequency axis is
kept. Any number of frames works, also other than in training.

References: Hershey et al. 2017, "CNN Architectures for Large-Scale Audio Classification",
https://arxiv.org/abs/1609.09430; Ioffe & Szegedy 2015 (batch normalisation),
https://arxiv.org/abs/1502.03167
"""

import keras
from keras import ops

from tfbig.layers.dropout import Dropout


@keras.saving.register_keras_serializable(package="tfbig")
class AudioCNN(keras.Model):
    """Log-mel spectrograms ``[B, frames, num_mels]`` → float32 logits ``[B, num_classes]``.

    Inputs are ``pipeline_audio.audio_dataset``'s features: normalised per utterance, so
    there is no rescaling layer. Softmax of the logits gives class probabilities.

    Args:
        num_classes: number of labels.
        num_mels: mel bands of the inputs.
        filters: convolution filters of each stage; each stage halves time and frequency.
        dropout: dropout before the classification layer.
        batch_norm_momentum: as in ``ImageCNN`` (0.9: short runs need settled statistics).

    Example:
        >>> import numpy as np
        >>> model = AudioCNN(num_classes=3, num_mels=16, filters=(4, 8))
        >>> tuple(model(np.zeros((2, 50, 16), "float32")).shape)
        (2, 3)

    Reference: Hershey et al. 2017, https://arxiv.org/abs/1609.09430
    """

    def __init__(self, num_classes, num_mels, filters=(16, 32, 64), dropout=0.3,
                 batch_norm_momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.num_mels = num_mels
        self.filters = tuple(filters)
        self.dropout = dropout
        self.batch_norm_momentum = batch_norm_momentum

        dtype = self.dtype_policy
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
        self.head_dropout = Dropout(dropout, name="head_dropout")
        self.classifier = keras.layers.Dense(num_classes, name="classifier", dtype=dtype)

    def build(self, input_shape=None):
        shape = (None, None, self.num_mels, 1)  # any number of frames
        for convolution, batch_norm in zip(self.convolutions, self.batch_norms):
            convolution.build(shape)
            shape = convolution.compute_output_shape(shape)
            batch_norm.build(shape)
            shape = self.pool.compute_output_shape(shape)
        self.classifier.build((None, shape[2] * self.filters[-1]))
        self.built = True

    def call(self, spectrograms, training=None):
        x = ops.expand_dims(spectrograms, -1)  # (B, T, M, 1)
        for convolution, batch_norm in zip(self.convolutions, self.batch_norms):
            x = batch_norm(convolution(x), training=training)
            x = self.pool(keras.activations.relu(x))  # (B, T/2^i, M/2^i, filters[i])
        x = ops.mean(x, axis=1)  # (B, M', filters[-1]): over time only
        x = ops.reshape(x, (-1, x.shape[1] * x.shape[2]))  # (B, M' · filters[-1])
        logits = self.classifier(self.head_dropout(x, training=training))
        return ops.cast(logits, "float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, num_mels=self.num_mels, filters=list(self.filters),
            dropout=self.dropout, batch_norm_momentum=self.batch_norm_momentum)
        return config
