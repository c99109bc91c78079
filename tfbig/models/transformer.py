"""The encoder-decoder Transformer of "Attention Is All You Need", as the article meant it.

Reference: Vaswani et al. 2017, https://arxiv.org/abs/1706.03762
"""

import keras
from keras import ops

from tfbig.layers import masks
from tfbig.layers.arguments import KeepsArguments
from tfbig.layers.decoder import Decoder
from tfbig.layers.encoder import Encoder
from tfbig.layers.validation import check_num_heads
from tfbig.models.real_token_step import RealTokenTrainStep


@keras.saving.register_keras_serializable(package="tfbig")
class Transformer(KeepsArguments, RealTokenTrainStep, keras.Model):
    """Encoder-decoder Transformer: ``(source_ids, target_ids) → next-token logits``.

    Keeps the article's constructor argument names. Token id 0 is padding in both inputs.

    Args:
        num_layers: encoder layers and decoder layers (each).
        d_model: model width.
        num_heads: attention heads; must divide ``d_model``.
        dff: feed-forward inner size.
        input_vocab_size: source vocabulary size.
        target_vocab_size: target vocabulary size.
        dropout_rate: dropout on embeddings, residual branches and attention weights.
        max_length: longest source or target sequence (position table size).
        positional: ``"sinusoidal"`` (paper), ``"learned"`` or ``"rotary"`` (RoPE in the
            encoder's and the decoder's self-attention, not in cross-attention; ``d_model /
            num_heads`` must be even). ``max_length`` stays the longest accepted sequence.
        norm_first: pre-norm blocks instead of the paper's post-norm.
        activation: feed-forward activation.
        tie_embeddings: compute logits with the target embedding matrix (transposed) instead
            of a separate output projection (Press & Wolf 2017).
        layer_norm_epsilon: layer-norm epsilon.

    Call: ``model((source_ids, target_ids), training=False)`` with int ids ``[batch, T_s]``
    and ``[batch, T_t]`` → float32 logits ``[batch, T_t, target_vocab_size]``, where position
    ``t`` predicts target token ``t + 1`` (teacher forcing: feed ``[START] y_1 … y_{n-1}``,
    train against ``y_1 … y_n [END]``).

    Example:
        >>> import numpy as np
        >>> model = Transformer(num_layers=1, d_model=16, num_heads=2, dff=32,
        ...                     input_vocab_size=20, target_vocab_size=30)
        >>> logits = model((np.array([[5, 6, 7, 0]]), np.array([[2, 8, 9]])))
        >>> tuple(logits.shape)
        (1, 3, 30)
    """

    def __init__(self, num_layers, d_model, num_heads, dff, input_vocab_size,
                 target_vocab_size, dropout_rate=0.1, max_length=2048, positional="sinusoidal",
                 norm_first=False, activation="relu", tie_embeddings=False,
                 layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        check_num_heads(d_model, num_heads)
        self.keep_arguments(
            num_layers=num_layers, d_model=d_model, num_heads=num_heads, dff=dff,
            input_vocab_size=input_vocab_size, target_vocab_size=target_vocab_size,
            dropout_rate=dropout_rate, max_length=max_length, positional=positional,
            norm_first=norm_first, activation=activation, tie_embeddings=tie_embeddings,
            layer_norm_epsilon=layer_norm_epsilon)

        stack = dict(num_layers=num_layers, d_model=d_model, num_heads=num_heads, dff=dff,
                     dropout_rate=dropout_rate, max_length=max_length, positional=positional,
                     activation=activation, norm_first=norm_first,
                     layer_norm_epsilon=layer_norm_epsilon, dtype=self.dtype_policy)
        self.encoder = Encoder(vocabulary_size=input_vocab_size, name="encoder", **stack)
        self.decoder = Decoder(vocabulary_size=target_vocab_size, name="decoder", **stack)
        if not tie_embeddings:
            self.output_projection = keras.layers.Dense(
                target_vocab_size, name="output_projection", dtype=self.dtype_policy)

    def build(self, input_shape):
        source_shape, target_shape = input_shape
        self.encoder.build(source_shape)
        self.decoder.build(target_shape, tuple(source_shape) + (self.d_model,))
        if not self.tie_embeddings:
            self.output_projection.build(tuple(target_shape) + (self.d_model,))
        self.built = True

    def encode(self, source_ids, training=None):
        """Source ids ``[batch, T_s]`` → encoder output ``[batch, T_s, d_model]``."""
        return self.encoder(source_ids, training=training)

    def logits(self, decoder_output):
        """Decoder output ``[batch, T, d_model]`` → float32 logits ``[batch, T, vocab]``."""
        if self.tie_embeddings:
            table = self.decoder.embedding.token_embedding.embeddings  # (vocab, d_model)
            logits = ops.matmul(decoder_output, ops.cast(ops.transpose(table),
                                                         decoder_output.dtype))
        else:
            logits = self.output_projection(decoder_output)
        # Losses and softmax in float32, also under mixed precision.
        return ops.cast(logits, "float32")

    @property
    def head_vocabulary_size(self):
        """Logits per position (``RealTokenTrainStep`` reads it)."""
        return self.target_vocab_size

    def hidden_states(self, inputs, training=None):
        """``(source_ids, target_ids)`` → decoder output ``[batch, T_t, d_model]``."""
        source_ids, target_ids = inputs
        encoder_output = self.encode(source_ids, training=training)
        return self.decoder(
            target_ids, encoder_output,
            cross_attention_mask=masks.key_padding_mask(source_ids),  # (B, 1, T_s)
            training=training)

    def call(self, inputs, training=None):
        return self.logits(self.hidden_states(inputs, training=training))

    def attention_scores(self, source_ids, target_ids):
        """Every attention map, for plots and analysis (dropout off).

        Returns ``{"encoder": [...], "decoder_self": [...], "cross": [...]}``, one
        ``[batch, heads, T_q, T_k]`` array per layer in each list.
        """
        encoder_output, encoder_weights = self.encoder(
            source_ids, training=False, return_attention_scores=True)
        _, decoder_weights = self.decoder(
            target_ids, encoder_output, cross_attention_mask=masks.key_padding_mask(source_ids),
            training=False, return_attention_scores=True)
        return {"encoder": encoder_weights,
                "decoder_self": [weights["self"] for weights in decoder_weights],
                "cross": [weights["cross"] for weights in decoder_weights]}

    def compute_output_shape(self, input_shape):
        _, target_shape = input_shape
        return tuple(target_shape) + (self.target_vocab_size,)
