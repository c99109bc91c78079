"""Sequence-to-sequence with recurrent networks and attention, the pre-Transformer way:

    source → embedding → bidirectional LSTM/GRU → encoder outputs [B, T_s, 2u]
    encoder final states (both directions) → dense "bridge" → decoder initial state
    target (shifted right) → embedding → LSTM/GRU → decoder outputs h_t [B, T_t, u]
    c_t = attention(query h_t, keys/values = encoder outputs, source padding masked)
    h̃_t = tanh(W_c [c_t; h_t])  →  logits = W_s h̃_t

This is Luong et al.'s global attention with the "general" (bilinear) score, computed by
a one-head :class:`tfbig.layers.MultiHeadAttention` (its query/key projections make the score
``(h_t W_q)·(h̄_s W_k) / √u``). Input feeding (feeding h̃_{t-1} into the decoder RNN) is left
out so the decoder runs over the whole target at once under teacher forcing, and so one
generated token costs one cell step: :meth:`RNNSeq2Seq.decode_step` carries the RNN states
and the encoder's attention keys/values (``tfbig.generation.adapters``), not a growing
key/value cache.

References: Bahdanau et al. 2014, https://arxiv.org/abs/1409.0473;
Luong et al. 2015, https://arxiv.org/abs/1508.04025
"""

import keras
from keras import ops

from tfbig.layers import masks
from tfbig.layers.dropout import Dropout
from tfbig.layers.multi_head_attention import MultiHeadAttention
from tfbig.layers.recurrent import check_cell, recurrent_layer
from tfbig.models.real_token_step import RealTokenTrainStep


@keras.saving.register_keras_serializable(package="tfbig")
class RNNSeq2Seq(RealTokenTrainStep, keras.Model):
    """``(source_ids, target_ids)`` → float32 logits ``[B, T_t, target_vocab_size]``.

    Called exactly like :class:`tfbig.models.Transformer`: token id 0 is padding in both
    inputs, and position ``t`` predicts target token ``t + 1``.

    Args:
        input_vocab_size: source vocabulary size.
        target_vocab_size: target vocabulary size.
        embedding_dim: token embedding size (source and target).
        units: RNN state size (per encoder direction, and of the decoder).
        cell: ``"lstm"`` or ``"gru"``.
        dropout: dropout on the embeddings and before the output layer.

    Example:
        >>> import numpy as np
        >>> model = RNNSeq2Seq(input_vocab_size=20, target_vocab_size=30, embedding_dim=8,
        ...                    units=8)
        >>> logits = model((np.array([[5, 6, 7, 0]]), np.array([[2, 8, 9]])))
        >>> tuple(logits.shape)
        (1, 3, 30)

    Reference: Luong et al. 2015, https://arxiv.org/abs/1508.04025
    """

    def __init__(self, input_vocab_size, target_vocab_size, embedding_dim=128, units=256,
                 cell="lstm", dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        check_cell(cell)
        self.input_vocab_size = input_vocab_size
        self.target_vocab_size = target_vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.cell = cell
        self.dropout = dropout

        dtype = self.dtype_policy
        # Unit-variance embeddings (PyTorch's and OpenNMT's default). Keras' default,
        # uniform ±0.05, gives the LSTMs inputs ~30× smaller than their recurrent signal:
        # on Multi30k (3,500 subwords) the decoder then ignored its inputs and stayed at
        # the unigram loss (6.1) for a whole 3-minute run (~1,000 steps at 3e-3; also at
        # 3e-4 and 1e-3), its attention saturating the tanh. With N(0, 1) a 3e-3 run was at
        # 4.6 after 150 steps. (The Transformer scales its embeddings by √d_model instead.)
        # One initializer each: an unseeded Keras initializer called twice repeats itself.
        self.source_embedding = keras.layers.Embedding(
            input_vocab_size, embedding_dim, name="source_embedding", dtype=dtype,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size, embedding_dim, name="target_embedding", dtype=dtype,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.embedding_dropout = Dropout(dropout, name="embedding_dropout")
        self.encoder = keras.layers.Bidirectional(
            recurrent_layer(cell, units, return_sequences=True, return_state=True,
                            name=f"encoder_{cell}", dtype=dtype),
            name="encoder", dtype=dtype)
        # LSTM carries two states (h, c), GRU one; each gets its own bridge.
        self.num_states = 2 if cell == "lstm" else 1
        self.bridges = [keras.layers.Dense(units, activation="tanh", name=f"bridge_{i}",
                                           dtype=dtype)
                        for i in range(self.num_states)]
        self.decoder = recurrent_layer(cell, units, return_sequences=True, name="decoder",
                                       dtype=dtype)
        self.attention = MultiHeadAttention(num_heads=1, key_dim=units, name="attention",
                                            dtype=dtype)
        # The decoder RNN attaches the target mask to its outputs; one output per query, so
        # the attention may pass it on (its own source mask is given explicitly).
        self.attention.supports_masking = True
        self.attention_combine = keras.layers.Dense(
            units, activation="tanh", name="attention_combine", dtype=dtype)
        self.output_dropout = Dropout(dropout, name="output_dropout")
        self.output_projection = keras.layers.Dense(
            target_vocab_size, name="output_projection", dtype=dtype)

    def build(self, input_shape):
        source_shape, target_shape = (tuple(shape) for shape in input_shape)
        self.source_embedding.build(source_shape)
        self.target_embedding.build(target_shape)
        self.encoder.build(source_shape + (self.embedding_dim,))
        for bridge in self.bridges:
            bridge.build((source_shape[0], 2 * self.units))
        self.decoder.build(target_shape + (self.embedding_dim,))
        self.attention.build(target_shape + (self.units,), source_shape + (2 * self.units,))
        self.attention_combine.build(target_shape + (2 * self.units,))
        self.output_projection.build(target_shape + (self.units,))
        self.built = True

    def encode(self, source_ids, training=None):
        """Source ids → ``(encoder outputs [B, T_s, 2u], decoder initial states)``."""
        x = self.embedding_dropout(self.source_embedding(source_ids), training=training)
        outputs = self.encoder(x, mask=masks.padding_mask(source_ids), training=training)
        encoder_output, states = outputs[0], outputs[1:]
        forward, backward = states[:self.num_states], states[self.num_states:]
        initial_state = [bridge(ops.concatenate([f, b], axis=-1))  # (B, u) each
                         for bridge, f, b in zip(self.bridges, forward, backward)]
        return encoder_output, initial_state

    def call(self, inputs, training=None):
        return self.logits(self.hidden_states(inputs, training=training))

    def hidden_states(self, inputs, training=None, return_attention_scores=False):
        """``(source_ids, target_ids)`` → h̃ ``[B, T_t, u]`` after the output dropout (with
        ``return_attention_scores``: also the attention weights ``[B, 1, T_t, T_s]``)."""
        source_ids, target_ids = inputs
        encoder_output, initial_state = self.encode(source_ids, training=training)
        x = self.embedding_dropout(self.target_embedding(target_ids), training=training)
        h = self.decoder(x, initial_state=initial_state, mask=masks.padding_mask(target_ids),
                         training=training)  # (B, T_t, u)
        context, weights = self.attention(
            h, encoder_output, attention_mask=masks.key_padding_mask(source_ids),
            training=training, return_attention_scores=True)  # (B, T_t, u), (B, 1, T_t, T_s)
        h = self.attention_combine(ops.concatenate([context, h], axis=-1))  # h̃: (B, T_t, u)
        h = self.output_dropout(h, training=training)
        return (h, weights) if return_attention_scores else h

    def logits(self, hidden):
        """Per position: h̃ ``[..., u]`` → float32 logits ``[..., target_vocab_size]``."""
        return ops.cast(self.output_projection(hidden), "float32")

    @property
    def head_vocabulary_size(self):
        """Logits per position (``RealTokenTrainStep`` reads it)."""
        return self.target_vocab_size

    def attention_scores(self, source_ids, target_ids):
        """``{"cross": [weights [B, 1, T_t, T_s]]}``: the one attention, in the form of
        :meth:`tfbig.models.Transformer.attention_scores` (one layer, one head)."""
        _, weights = self.hidden_states((source_ids, target_ids), training=False,
                                        return_attention_scores=True)
        return {"cross": [weights]}

    # --------------------------------------------------------------- one step at a time
    def start_decoding(self, source_ids):
        """What :meth:`decode_step` carries: ``(states, attention keys/values, source
        mask)``: the bridged encoder states (``[B, u]`` each), the encoder outputs projected
        once (``([B, 1, T_s, u], [B, 1, T_s, u])``) and the key padding mask
        ``[B, 1, T_s]``."""
        encoder_output, states = self.encode(source_ids, training=False)
        keys_values = self.attention.project_key_value(encoder_output, pair=True)
        return tuple(states), keys_values, masks.key_padding_mask(source_ids)

    def decode_step(self, token_ids, states, keys_values, source_mask):
        """One decoder position: ``token_ids [B]`` → ``(logits [B, V], new states)``.

        Equals position ``t`` of ``call`` on the prefix ``y_0 … y_t``. A token 0 is padding
        there (the masked RNN keeps its state and repeats its last output), so it is here.
        """
        x = self.target_embedding(token_ids)  # (B, e)
        output, new_states = self.decoder.cell(x, list(states), training=False)  # (B, u)
        new_states = new_states if isinstance(new_states, (list, tuple)) else [new_states]
        real = ops.expand_dims(ops.not_equal(token_ids, 0), -1)  # (B, 1)
        new_states = tuple(ops.where(real, new, old) for new, old in zip(new_states, states))
        h = ops.where(real, output, states[0])  # h_t; states[0] is h for LSTM and GRU
        context, _ = self.attention(h[:, None], attention_mask=source_mask,
                                    cache=keys_values)  # (B, 1, u)
        h = self.attention_combine(ops.concatenate([context[:, 0], h], axis=-1))  # (B, u)
        return self.logits(h), new_states

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1]) + (self.target_vocab_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            input_vocab_size=self.input_vocab_size, target_vocab_size=self.target_vocab_size,
            embedding_dim=self.embedding_dim, units=self.units, cell=self.cell,
            dropout=self.dropout)
        return config
