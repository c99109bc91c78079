"""Blank input lines get blank answers: ``predict`` keeps one output line per input line, so
a paragraph break in a document to translate or classify stays a blank line, and the model
is never asked about nothing. (The ``lm`` task does not use it: an empty prompt there asks
for a continuation of nothing.)"""


def answer_non_blank(texts, answer):
    """``answer(the non-blank texts)`` put back in place, ``""`` for each blank one.

    Args:
        texts: strings; blank = empty or whitespace only.
        answer: ``answer(list_of_str)`` → one result per string, in order; not called when
            every text is blank.

    Example:
        >>> answer_non_blank(["a", "", " ", "b"], lambda texts: [t.upper() for t in texts])
        ['A', '', '', 'B']
    """
    asked = [text for text in texts if text.strip()]
    answers = iter(answer(asked) if asked else [])
    return [next(answers) if text.strip() else "" for text in texts]
