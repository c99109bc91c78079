"""``MaskedLMTask.predict_texts`` in graph ops: fill each ``[MASK]`` of a text.

    texts ──split at "[MASK]"──> parts [B, (P)] ──tokenize each part, a [MASK] id before
    every part but the first──> [CLS] ids… [SEP] [B, T] ──model──> logits [B, T, V]
    ──argmax over learned tokens──> best [B, T] ──the best token at each [MASK] position,
    "##" dropped; "[MASK]" for masks cut off──> fills [B, (P - 1)]
    ──part₀ fill₀ part₁ fill₁ … part_last──> texts [B]

The text between masks comes back as it was written (only the fills are new); rows are
padded to the batch's longest, as predict pads them.
"""

import tensorflow as tf

from tfbig.data.batching import add_cls_sep
from tfbig.special_tokens import MASK, NUM_SPECIAL_TOKENS

SUFFIX_INDICATOR = "##"  # a WordPiece continuation's prefix, dropped from a fill


def split_at_masks(texts):
    """``[B]`` strings → ragged ``[B, (P)]``: the text around each ``[MASK]`` (as Python's
    ``text.split("[MASK]")``: ``P`` = masks + 1, empty parts kept)."""
    return tf.strings.split(texts, sep=MASK)


def masked_token_ids(parts, tokenizer, longest):
    """Int32 ``[B, T]`` model inputs: ``[CLS]``, the parts' tokens with ``mask_id`` between
    them, cut to ``longest - 1`` ids, ``[SEP]``; padded with 0 to the longest row."""
    pieces = tokenizer.tokenize(parts.flat_values)  # ragged (ΣP, (tokens))
    # A [MASK] before every part but the first of its text.
    is_later = tf.ragged.range(parts.row_lengths()).flat_values > 0  # (ΣP,)
    marks = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(tf.cast(is_later, tf.int64))],
                tf.cast(tokenizer.mask_id, pieces.dtype)),
        tf.cast(is_later, tf.int64))  # ragged (ΣP, (0 or 1))
    per_part = tf.concat([marks, pieces], axis=1)  # ragged (ΣP, (tokens))
    per_text = tf.RaggedTensor.from_row_lengths(per_part, parts.row_lengths())
    ids = per_text.merge_dims(1, 2)  # ragged (B, (tokens))
    framed = add_cls_sep(ids, longest - 2, tokenizer.cls_id, tokenizer.sep_id)
    return tf.cast(framed.to_tensor(0), tf.int32)  # (B, T)


def best_learned_tokens(logits):
    """``argmax`` over the learned tokens only (special ids never fill a mask): int32."""
    logits = tf.cast(logits, tf.float32)  # (B, T, V)
    special = tf.range(tf.shape(logits)[-1]) < NUM_SPECIAL_TOKENS  # (V,)
    logits = tf.where(special, tf.constant(-float("inf")), logits)
    return tf.argmax(logits, axis=-1, output_type=tf.int32)  # (B, T)


def fill_masks(parts, token_ids, best, vocabulary, mask_id):
    """Join each text's parts with its fills.

    Args:
        parts: ragged ``[B, (P)]`` strings (:func:`split_at_masks`).
        token_ids: ``[B, T]`` model inputs; positions holding ``mask_id`` are the blanks.
        best: ``[B, T]`` token ids chosen at every position.
        vocabulary: ``[V]`` strings, id → token.
        mask_id: the tokenizer's ``[MASK]`` id.

    Returns:
        ``[B]`` strings.
    """
    chosen = tf.ragged.boolean_mask(best, tf.equal(token_ids, mask_id))  # (B, (M ≤ P - 1))
    words = tf.strings.regex_replace(tf.gather(vocabulary, chosen.flat_values),
                                     f"^{SUFFIX_INDICATOR}", "")  # (ΣM,)
    # Slot j of text b (j < P_b) gets fill j, "[MASK]" once the fills run out (masks cut
    # off by the length limit), and "" after the last part.
    rows = parts.value_rowids()  # (ΣP,)
    slot = tf.ragged.range(parts.row_lengths()).flat_values  # (ΣP,)
    found = tf.gather(chosen.row_lengths(), rows)  # (ΣP,) M of the slot's text
    last = tf.gather(parts.row_lengths(), rows) - 1  # (ΣP,)
    index = tf.gather(chosen.row_splits, rows) + tf.minimum(slot, tf.maximum(found - 1, 0))
    word = tf.gather(tf.concat([words, [""]], 0), tf.minimum(index, tf.size(words, tf.int64)))
    fill = tf.where(slot >= last, "", tf.where(slot < found, word, MASK))
    joined = parts.with_flat_values(tf.strings.join([parts.flat_values, fill]))
    return tf.strings.reduce_join(joined, axis=1)  # (B,)
