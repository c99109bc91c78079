"""``answer_non_blank``: blank texts get ``""`` and never reach the model; the others keep
their order."""

from tfbig.tasks.blank_lines import answer_non_blank


def test_blank_texts_are_not_asked_and_answered_blank():
    asked = []

    def answer(texts):
        asked.append(list(texts))
        return [text.upper() for text in texts]

    assert answer_non_blank(["a", "", "  \t", "b"], answer) == ["A", "", "", "B"]
    assert asked == [["a", "b"]]
    assert answer_non_blank(["", " "], answer) == ["", ""] and len(asked) == 1  # not called
    assert answer_non_blank([], answer) == [] and len(asked) == 1


def test_the_exported_graph_calls_the_same_texts_blank():
    """``tfbig.serving.modules.blank_texts`` (RE2, in the SavedModel) agrees with Python's
    ``not text.strip()`` on every character up to U+3000 and a few mixed texts."""
    import tensorflow as tf

    from tfbig.serving.modules import blank_texts

    texts = [chr(c) for c in range(0x3001) if not 0xD800 <= c < 0xE000]
    texts += ["", " a ", " \t\u3000\v", "\u200b", "\ufeff"]
    got = blank_texts(tf.constant([text.encode("utf-8") for text in texts])).numpy()
    assert [bool(g) for g in got] == [not text.strip() for text in texts]
