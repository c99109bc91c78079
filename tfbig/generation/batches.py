"""``text_batches``: the texts to decode, cut into batches of one shape.

The decoding loop is compiled once per input shape (XLA by default), and compiling it is
seconds. Decoding 815 texts in batches of 64 would compile twice: for the twelve full
batches and again for the last 47. Topping the last batch up to the full size (with copies
of one of its texts, whose outputs are dropped) keeps one compiled loop for the whole list.
"""


def text_batches(texts, batch_size):
    """Yield ``(batch, count)``: consecutive ``texts`` in lists of ``batch_size``; only the
    first ``count`` of a batch are real. When the texts fill more than one batch, the last,
    shorter one is topped up with copies of its first text (greedy and beam outputs of a row
    do not depend on the other rows). A single batch is kept as it is: padding a handful of
    interactive inputs up to ``batch_size`` rows would only cost time."""
    texts = list(texts)
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        count = len(batch)
        if len(texts) > batch_size:
            batch = batch + batch[:1] * (batch_size - count)
        yield batch, count
