"""A long-input text-to-text sample (summarisation-style), generated, never shipped.

    python -m tfbig.data.samples_documents --output documents.tsv --count 2000 --seed 0

Each line is ``document<TAB>summary``. A document is 150 to 400 words: short sentences
(``mira feeds the goat near the river .``) from a vocabulary of about 100 words, separated
by spaces so that ``data.tokenizer=word`` makes one token per word. One of ``NAMES`` is the
document's main character: it is the subject of about 40% of the sentences, scattered
anywhere in the document; every other sentence has another name or no name. The main
character goes to one favourite place more than to the others. The summary is the most
frequent name and the most frequent place of the document, e.g. ``mira river``.

Why this target: no sentence, and no fixed position, gives the answer away: the model has
to read the whole document and count, which attention does naturally (a query that attends
to every name averages their embeddings, and the most frequent one dominates), so a tiny
Transformer learns it in CPU seconds. Chance is ``1 / len(NAMES)`` for the name and
``1 / len(PLACES)`` for the place. A document cut short loses evidence: counted on its
first 64 tokens (about a fifth of a short document), the most frequent name and place are
both right for two documents in three; on the whole document, always.

Each document draws from its own random stream (``[seed, 5, index]``), so the first
documents are the same whatever the count. NumPy only: no TensorFlow.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from tfbig.errors import TfbigError

NAMES = "mira tomas lena oskar nadia felix ines bruno".split()
PLACES = "river market garden forest harbour library".split()
_VERBS = "feeds|paints|finds|carries|sells|watches|cleans|draws".split("|")
_THINGS = "goat|boat|basket|lamp|kite|map|drum|chair|letter|apple".split("|")
_PREPOSITIONS = "near|in|behind|beside".split("|")
_FILLERS = ("the wind is cold today .", "it rains all morning .", "the sun sets late .",
            "a bell rings twice .", "the road is quiet .", "clouds cover the hills .",
            "the bus is late again .", "nobody speaks for a while .")
MAIN_SHARE = 0.4  # of the sentences: the main character's
_STREAM = 5  # samples.py streams 0-4 are the shipped files'


def _sentence(rng: np.random.Generator, name: str, place: str) -> str:
    thing, verb = _THINGS[rng.integers(len(_THINGS))], _VERBS[rng.integers(len(_VERBS))]
    preposition = _PREPOSITIONS[rng.integers(len(_PREPOSITIONS))]
    return f"{name} {verb} the {thing} {preposition} the {place} ."


def document(rng: np.random.Generator, min_words: int = 150,
             max_words: int = 400) -> tuple[str, str]:
    """One ``(document, summary)`` pair of ``min_words`` to ``max_words`` words."""
    main = NAMES[rng.integers(len(NAMES))]
    others = [name for name in NAMES if name != main]
    # The main character's favourite place: 80% of its visits, the rest anywhere.
    favourite = PLACES[rng.integers(len(PLACES))]
    target_words = int(rng.integers(min_words, max_words + 1))
    sentences, words = [], 0
    mentions, visits = dict.fromkeys(NAMES, 0), dict.fromkeys(PLACES, 0)
    while words < target_words:
        draw = rng.random()
        if draw < MAIN_SHARE:
            name = main
            place = favourite if rng.random() < 0.8 else PLACES[rng.integers(len(PLACES))]
        elif draw < 0.85:
            name = others[rng.integers(len(others))]
            place = PLACES[rng.integers(len(PLACES))]
        else:
            name = place = None
        if name is None:
            sentence = _FILLERS[rng.integers(len(_FILLERS))]
        else:
            sentence = _sentence(rng, name, place)
            mentions[name] += 1
            visits[place] += 1
        sentences.append(sentence)
        words += sentence.count(" ") + 1
    # The counts decide (a short document's main character is now and then outnumbered);
    # ties go to the first in NAMES/PLACES order. Both are rare: the main character is
    # about half of the names, the favourite about half of the places, the others a tenth.
    name = max(NAMES, key=lambda n: mentions[n])
    place = max(PLACES, key=lambda p: visits[p])
    return " ".join(sentences), f"{name} {place}"


def document_pairs(count: int, seed: int = 0, min_words: int = 150,
                   max_words: int = 400) -> list[tuple[str, str]]:
    """``count`` ``(document, summary)`` pairs; pair ``i`` from ``[seed, 5, i]`` alone."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TfbigError(f"seed={seed!r}: expected a non-negative integer")
    if not 10 <= min_words <= max_words:
        raise TfbigError(f"min_words={min_words}, max_words={max_words}: expected "
                         f"10 <= min_words <= max_words")
    return [document(np.random.default_rng([seed, _STREAM, index]), min_words, max_words)
            for index in range(count)]


def write_documents(path, count: int = 2000, seed: int = 0) -> str:
    """Write ``count`` pairs as a TSV at ``path``; one summary line."""
    path = Path(path)
    pairs = document_pairs(count, seed)
    path.write_text("".join(f"{source}\t{target}\n" for source, target in pairs),
                    encoding="utf-8", newline="\n")
    return f"{path}: {count} lines, {path.stat().st_size / 1024:.0f} KiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tfbig.data.samples_documents",
        description="Write a long-input text-to-text TSV: documents of 150-400 words and a "
                    "two-word summary (the most frequent name and place).")
    parser.add_argument("--output", default="documents.tsv", help="TSV file to write")
    parser.add_argument("--count", type=int, default=2000, help="pairs (default: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    try:
        print(write_documents(args.output, args.count, args.seed))
    except (TfbigError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
