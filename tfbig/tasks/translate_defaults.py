"""The translate task's defaults, derived from the training pairs.

The field defaults of ``tfbig.config`` suit the shipped dates sample: short symbolic strings,
where characters are the right tokens and a 2-layer model of width 128 is plenty. A user's
real corpus (sentences of a natural language) wants subwords, a vocabulary and a model that
grow with the corpus, and batches grouped by length. ``data_defaults`` looks at the pairs
and returns each choice with its reason; ``tfbig.config.with_data_defaults`` applies those
the user did not set, and ``train`` prints them.

The rules, each a line of code below:

* **Natural language or symbols?** A side is natural language when it has at least
  ``LANGUAGE_WORDS`` distinct words (runs of letters, case-folded; the dates sample has
  under 100: month, day and number names; 3,000 sentences of English have several
  thousand). Natural language on either side → the ``subword`` tokenizer (WordPiece pieces
  with exact spacing, learnt per side, case and accents kept); else ``char``.
* **Vocabulary**: a third of the distinct words of the larger side, rounded to 500, within
  ``[1000, 32000]`` (Multi30k's 29k captions: ≈ 4k, near the ~3k-per-side vocabularies of the
  TensorFlow tutorial; the paper's 4.5M pairs: the 32k cap, near its 37k shared BPE).
* **Model size** from the training target tokens (an estimate before the tokenizer exists:
  characters, or words and punctuation × 1.2): the ``SIZES`` table below.
* **Batches by tokens**: ``batch_size`` examples of the mean target length, rounded to 256
  tokens, grouped by length (subwords only; characters keep fixed-size batches).
* **Final decoding**: beam search (4 beams, α 0.6, the paper's) for natural language; greedy
  for symbolic data, where there is one right answer and greedy finds it.
"""

import re

LANGUAGE_WORDS = 1000  # distinct words that make a side natural language

# (largest number of training target tokens, model size in tfbig.config.PRESETS)
SIZES = ((20_000, "tiny"), (300_000, "small"), (10_000_000, "medium"), (float("inf"), "base"))

_WORD = re.compile(r"\w+|[^\w\s]")  # a word or a punctuation mark: ≈ a subword token
_LETTERS = re.compile(r"[^\W\d_]+")  # a run of letters (any script)


def _distinct_words(texts):
    return {word.casefold() for text in texts for word in _LETTERS.findall(text)}


def estimated_tokens(texts, kind):
    """Tokens of ``texts`` under a tokenizer of ``kind`` (before it is learnt)."""
    if kind == "char":
        return sum(len(text) for text in texts)
    return int(1.2 * sum(len(_WORD.findall(text)) for text in texts))


def model_size(tokens):
    """The ``SIZES`` name for ``tokens`` training target tokens."""
    return next(name for limit, name in SIZES if tokens < limit)


def data_defaults(pairs, *, batch_size, scale=1.0):
    """``[(config key, value, reason)]`` for the translate task's training ``pairs``.

    ``scale``: training pairs per pair of ``pairs`` when they are a sample of a streamed
    corpus (the model size follows the whole corpus's tokens)."""
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    words = [len(_distinct_words(sources)), len(_distinct_words(targets))]
    language = max(words) >= LANGUAGE_WORDS
    kind = "subword" if language else "char"
    sides = f"{words[0]:,} / {words[1]:,} distinct words (source / target)"
    choices = [("data.tokenizer", kind,
                f"{sides}: {'natural language' if language else 'symbolic data'}")]
    if language:
        vocab = min(max(round(max(words) / 3 / 500) * 500, 1000), 32000)
        choices.append(("data.vocab_size", vocab, "a third of the larger side's distinct "
                                                   "words, within [1000, 32000]"))
    tokens = estimated_tokens(targets, kind)
    total = round(tokens * scale)
    size = model_size(total)
    choices.append(("model.preset", size, f"≈{total:,} training target tokens"
                    + (f" (scaled from a sample of {len(pairs):,} pairs)" if scale != 1 else "")))
    if language:
        mean_length = tokens / max(len(targets), 1) + 2  # [START]/[END]
        batch_tokens = max(256, round(batch_size * mean_length / 256) * 256)
        choices.append(("train.batch_tokens", batch_tokens,
                        f"{batch_size} examples of the mean target length "
                        f"({mean_length:.0f} tokens), grouped by length"))
    choices.append(("train.final_decode", "beam" if language else "greedy",
                    "natural language: the paper's beam search" if language else
                    "symbolic data: one right answer"))
    return choices
