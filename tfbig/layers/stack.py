"""What the encoder and decoder stacks share: embed token ids, then ``num_layers`` blocks.

:class:`tfbig.layers.Encoder` and :class:`tfbig.layers.Decoder` differ only in their block
class (and in what their ``call`` passes each block); their arguments, sublayers, weight
names and config all come from :class:`BlockStack`.
"""

import keras

from tfbig.layers.arguments import KeepsArguments
from tfbig.layers.dropout import Dropout
from tfbig.layers.positional_encoding import PositionalEmbedding


def final_norm(norm_first, epsilon, dtype):
    """The layer norm that ends a pre-norm stack (its blocks' outputs are un-normed), or
    None for a post-norm stack (each block already ends with one)."""
    if not norm_first:
        return None
    return keras.layers.LayerNormalization(epsilon=epsilon, name="final_norm", dtype=dtype)


class BlockStack(KeepsArguments, keras.layers.Layer):
    """``PositionalEmbedding`` → dropout → ``num_layers`` × ``block_class`` → final norm
    (pre-norm stacks only: their blocks' outputs are un-normed).

    Subclasses set ``block_class`` (a block taking ``(d_model, num_heads, dff,
    dropout_rate, attention_dropout, activation, norm_first, layer_norm_epsilon)`` and a
    ``rotary`` keyword, True for ``positional="rotary"``) and write ``call``. Arguments:
    see :class:`tfbig.layers.Encoder`.
    """

    block_class = None

    def __init__(self, num_layers, d_model, num_heads, dff, vocabulary_size, dropout_rate=0.1,
                 max_length=2048, positional="sinusoidal", activation="relu",
                 norm_first=False, attention_dropout=None, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.keep_arguments(
            num_layers=num_layers, d_model=d_model, num_heads=num_heads, dff=dff,
            vocabulary_size=vocabulary_size, dropout_rate=dropout_rate, max_length=max_length,
            positional=positional, activation=activation, norm_first=norm_first,
            attention_dropout=attention_dropout, layer_norm_epsilon=layer_norm_epsilon)

        # Created in this order (it is the order of the weights and of the dropout seeds).
        self.embedding = PositionalEmbedding(
            vocabulary_size, d_model, max_length, positional, name="embedding",
            dtype=self.dtype_policy)
        self.embedding_dropout = Dropout(dropout_rate, name="embedding_dropout")
        self.blocks = [
            self.block_class(d_model, num_heads, dff, dropout_rate, attention_dropout,
                             activation, norm_first, layer_norm_epsilon,
                             rotary=positional == "rotary", name=f"block_{i}",
                             dtype=self.dtype_policy)
            for i in range(num_layers)
        ]
        self.final_norm = final_norm(norm_first, layer_norm_epsilon, self.dtype_policy)

    def build_stack(self, token_ids_shape, *context_shapes):
        """Build the embedding, every block (on the hidden shape, then ``context_shapes``)
        and the final norm; the subclasses' ``build`` name their arguments after ``call``'s.
        """
        self.embedding.build(token_ids_shape)
        hidden_shape = tuple(token_ids_shape) + (self.d_model,)
        for block in self.blocks:
            block.build(hidden_shape, *context_shapes)
        if self.final_norm is not None:
            self.final_norm.build(hidden_shape)

    def apply_final_norm(self, x):
        """The stack's output: ``x`` through the final norm when there is one."""
        return x if self.final_norm is None else self.final_norm(x)
