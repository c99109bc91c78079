"""The encoder stack: embed the source, then ``num_layers`` encoder blocks."""

import keras

from tfbig.layers import masks
from tfbig.layers.encoder_block import EncoderBlock
from tfbig.layers.stack import BlockStack


@keras.saving.register_keras_serializable(package="tfbig")
class Encoder(BlockStack):
    """``token ids [batch, T] → contextual vectors [batch, T, d_model]``.

    The article indexed a two-element list of layers by layer number; here the stack is a
    real list of ``num_layers`` independent :class:`EncoderBlock` s.

    Args:
        num_layers, d_model, num_heads, dff: sizes, as in the paper.
        vocabulary_size: source vocabulary size (id 0 is padding).
        dropout_rate: dropout after the embedding and on every residual branch.
        max_length: longest source sequence.
        positional: ``"sinusoidal"``, ``"learned"`` (a position vector added to each token
            embedding) or ``"rotary"`` (none added: every block's self-attention rotates its
            queries and keys by their positions; ``d_model / num_heads`` must be even).
        activation, norm_first, attention_dropout, layer_norm_epsilon: see EncoderBlock.
            Pre-norm stacks end with a final layer norm (the blocks' outputs are un-normed).
    """

    block_class = EncoderBlock

    def build(self, input_shape):
        self.build_stack(input_shape)

    def call(self, token_ids, training=None, return_attention_scores=False):
        attention_mask = masks.key_padding_mask(token_ids)  # (B, 1, T)
        x = self.embedding_dropout(self.embedding(token_ids), training=training)
        all_weights = []
        for block in self.blocks:
            x, weights = block(x, attention_mask=attention_mask, training=training,
                               return_attention_scores=True)
            all_weights.append(weights)
        x = self.apply_final_norm(x)
        return (x, all_weights) if return_attention_scores else x
