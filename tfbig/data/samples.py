"""Generate the sample data shipped in ``data/`` (and its packaged copy, ``tfbig/sample_data``):
small, deterministic, learnable in CPU minutes.

    python -m tfbig.data.samples --output data --seed 0

==================  =========  ===============================================================
file                task       content
==================  =========  ===============================================================
``dates.tsv``       translate  8000 ``source<TAB>target``: a date in words -> ``YYYY-MM-DD``
``reviews.tsv``     classify   3000 ``text<TAB>label``: product reviews, 1000 per label
``corpus.txt``      lm, mlm    4000 simple English sentences from a small grammar
``shapes/``         image      circle/, square/, triangle/: 250 noisy 32x32 RGB PNGs each
``audio/``          audio      kapi/, nosa/, sumo/, tesha/, wiyu/: 60 synthetic spoken words
                               each, 0.4-0.7 s, 8 kHz 16-bit mono PCM WAV
==================  =========  ===============================================================

Each file draws from its own random stream, derived from the seed and the file's position,
so changing one generator leaves the other files byte-identical (each audio clip has its
own: ``tfbig.data.samples_audio`` makes them). No TensorFlow.

Not shipped, generated where it is used (tests, docs/long-inputs.md): long-input
text-to-text pairs, documents of 150-400 words and a two-word summary
(``tfbig.data.samples_documents``, stream 5 of the same seed).
"""

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

from tfbig.data.samples_audio import write_word_clips
from tfbig.errors import TfbigError

MONTHS = ("January February March April May June July August September October November "
          "December").split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
SHAPES = ("circle", "square", "triangle")
REVIEW_LABELS = ("positive", "negative", "neutral")
_ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
             "twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth "
             "nineteenth twentieth").split()
_FIRST_DAY = datetime.date(1950, 1, 1).toordinal()
_LAST_DAY = datetime.date(2049, 12, 31).toordinal()


def ordinal_word(day: int) -> str:
    """``4`` -> ``"fourth"``, ``21`` -> ``"twenty-first"``, ``30`` -> ``"thirtieth"``."""
    if day <= 20:
        return _ORDINALS[day - 1]
    tens = "twenty" if day < 30 else "thirty"
    return f"{tens}-{_ORDINALS[day % 10 - 1]}" if day % 10 else "thirtieth"


def ordinal_number(day: int) -> str:
    """``1`` -> ``"1st"``, ``12`` -> ``"12th"``, ``22`` -> ``"22nd"``."""
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _abbr(d: datetime.date, dot: bool = False) -> str:
    month = MONTHS[d.month - 1]
    return month[:3] + ("." if dot and len(month) > 3 else "")  # no "May." for May


# Unambiguous forms only (no 03/04/2021): month names and ordinals carry the meaning.
DATE_FORMATS = (
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",                       # March 4, 2021
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",                         # 4 March 2021
    lambda d: f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"the {ordinal_word(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{ordinal_number(d.day)} {_abbr(d)} {d.year}",                    # 4th Mar 2021
    lambda d: f"{_abbr(d)} {ordinal_number(d.day)}, {d.year}",                   # Mar 4th, 2021
    lambda d: f"{MONTHS[d.month - 1].lower()} {d.day} {d.year}",                 # march 4 2021
    lambda d: f"{d.day} {_abbr(d, dot=True).lower()} {d.year}",                  # 4 mar. 2021
    lambda d: f"{d.year}, {MONTHS[d.month - 1]} the {ordinal_number(d.day)}",
    lambda d: f"the {ordinal_number(d.day)} of {MONTHS[d.month - 1].lower()}, {d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()][:3]}, {_abbr(d)} {d.day}, {d.year}",      # Thu, Mar 4, 2021
    lambda d: f"{WEEKDAYS[d.weekday()]} the {ordinal_word(d.day)} of {MONTHS[d.month - 1]}, "
              f"{d.year}",
)


def date_pairs(count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """``count`` pairs ``(date in words, ISO date)``, 1950-01-01 to 2049-12-31, forms mixed."""
    days = rng.integers(_FIRST_DAY, _LAST_DAY + 1, size=count)
    forms = rng.integers(len(DATE_FORMATS), size=count)
    dates = [datetime.date.fromordinal(int(day)) for day in days]
    return [(DATE_FORMATS[form](d), d.isoformat()) for form, d in zip(forms, dates)]


# Reviews: each clause scores +1, 0 or -1 and the label is the sign of the sum, so one
# keyword never decides ("great ... but noisy" is neutral) and negation matters ("not good").
_PRODUCTS = ("blender kettle toaster laptop tablet phone camera speaker headset keyboard mouse "
             "monitor printer router lamp chair desk backpack jacket watch charger vacuum "
             "heater fan mixer drill tent mattress pillow bicycle").split()
_ASPECTS = ("battery screen sound price design size weight delivery packaging handle lid "
            "manual warranty cable finish colour setup app display material motor button "
            "strap case fabric").split()
_GOOD = ("great excellent good wonderful fantastic solid superb impressive reliable sturdy "
         "lovely perfect brilliant sleek comfortable fast smooth clear bright quiet pleasant "
         "awesome outstanding nice handy").split()
_BAD = ("bad terrible awful poor flimsy overpriced broken noisy slow useless disappointing "
        "weak faulty horrible dreadful annoying clumsy dull fragile shoddy unreliable "
        "uncomfortable scratched defective cheap").split()
_MEH = "okay average ordinary standard acceptable typical normal plain basic adequate fine".split()
_ADVERBS = "very really quite rather so pretty truly".split()
_OPENERS = ("I bought this {p} last week.", "Got this {p} as a gift.", "My {r} ordered this {p}.",
            "I have used the {p} for a month.", "This is my second {p}.",
            "We replaced our old {p} with this one.", "Bought the {p} on sale.")
_RELATIVES = "sister brother mother father friend neighbour colleague son daughter".split()
_JOINERS = (" and ", " but ", ", although ", ". Also, ", ", while ", ". ")
_VERBS = {1: "love like enjoy adore appreciate".split(), -1: "hate dislike regret".split(),
          0: ["do not mind", "have no opinion on", "barely notice"]}
_WORKS = {1: "well perfectly flawlessly".split(), -1: "badly poorly terribly".split(),
          0: ["as expected", "as described", "like any other"]}


def _pick(rng: np.random.Generator, options):
    """One of ``options``; faster than ``rng.choice``, which first copies them to an array."""
    return options[rng.integers(len(options))]


def _review_clause(rng: np.random.Generator) -> tuple[str, int]:
    score = int(rng.integers(-1, 2))
    aspect = _pick(rng, _ASPECTS)
    words = {1: _GOOD, -1: _BAD, 0: _MEH}[score]
    adverb = _pick(rng, _ADVERBS) + " " if score and rng.random() < 0.4 else ""
    kind = rng.integers(4)
    if kind == 0:
        return f"the {aspect} is {adverb}{_pick(rng, words)}", score
    if kind == 1:  # negation: "not good" is bad, "not bad" only lukewarm, "not okay" is bad
        return f"the {aspect} is not {_pick(rng, words)}", {1: -1, -1: 0, 0: -1}[score]
    if kind == 2:
        return f"I {_pick(rng, _VERBS[score])} the {aspect}", score
    return f"it works {_pick(rng, _WORKS[score])}", score


def review_lines(per_label: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """``3 * per_label`` shuffled ``(review, label)`` pairs, ``per_label`` of each label."""
    counts = dict.fromkeys(REVIEW_LABELS, 0)
    reviews = []
    while len(reviews) < 3 * per_label:
        clauses = [_review_clause(rng) for _ in range(rng.integers(1, 4))]
        total = sum(score for _, score in clauses)
        label = "positive" if total > 0 else "negative" if total < 0 else "neutral"
        if counts[label] == per_label:
            continue  # rejection sampling keeps the classes balanced
        counts[label] += 1
        text = clauses[0][0]
        for clause, _ in clauses[1:]:
            joiner = _pick(rng, _JOINERS)
            text += joiner + (clause[0].upper() + clause[1:] if joiner == ". " else clause)
        text = text[0].upper() + text[1:] + "."
        if rng.random() < 0.5:
            opener = _pick(rng, _OPENERS).format(p=_pick(rng, _PRODUCTS), r=_pick(rng, _RELATIVES))
            text = f"{opener} {text}"
        reviews.append((text, label))
    return [reviews[i] for i in rng.permutation(len(reviews))]


# Corpus: a small grammar with agreement (the dog runs / the dogs run) and selection
# (people eat food, animals chase animals), so a language model clearly beats unigrams.
_ANIMALS = [n.split("/") for n in ("cat/cats dog/dogs bird/birds horse/horses rabbit/rabbits "
                                   "fox/foxes mouse/mice sheep/sheep cow/cows duck/ducks "
                                   "goat/goats owl/owls").split()]
_PEOPLE = [n.split("/") for n in ("teacher/teachers farmer/farmers doctor/doctors "
                                  "child/children girl/girls boy/boys baker/bakers "
                                  "student/students woman/women man/men nurse/nurses "
                                  "driver/drivers").split()]
_FOODS = "bread apples soup cheese rice fish carrots cake eggs honey pears milk".split()
_THINGS = "a book|a letter|a map|a poem|a story|the newspaper|a song|a list".split("|")
_PLACES = "park river market school garden forest village kitchen library station farm".split()
_ANIMAL_ADJ = "small big old young brown white hungry lazy happy sleepy".split()
_PERSON_ADJ = "old young tall kind busy tired happy clever quiet".split()
_FOOD_ADJ = "fresh warm sweet hot green cold".split()
_TIMES = ("every morning|in the evening|at night|on sunday|after lunch|before dinner|today|"
          "in the spring|every day").split("|")
_ANIMAL_ACTS = "sleep|run|play|hide|sing|rest".split("|")
_PERSON_ACTS = "eat|cook|buy|sell|like|share".split("|")
_READ_ACTS = "read|write|find".split("|")


def _noun(rng, nouns, adjectives):
    singular, plural = nouns[rng.integers(len(nouns))]
    is_plural = rng.random() < 0.4
    det = _pick(rng, ["the", "some", "many", "these", "my"] if is_plural
                     else ["the", "a", "this", "my", "our"])
    adj = _pick(rng, adjectives) + " " if rng.random() < 0.5 else ""
    if det == "a" and adj[:1] in tuple("aeiou"):
        det = "an"
    return f"{det} {adj}{plural if is_plural else singular}", is_plural


def _verb(stem: str, is_plural: bool) -> str:
    if is_plural:
        return stem
    return stem + ("es" if stem.endswith(("sh", "ch", "s", "x")) else "s")


def _sentence(rng: np.random.Generator) -> str:
    kind = rng.integers(5)
    time = " " + _pick(rng, _TIMES) if rng.random() < 0.5 else ""
    if kind == 0:
        subject, plural = _noun(rng, _ANIMALS, _ANIMAL_ADJ)
        verb = _verb(_pick(rng, _ANIMAL_ACTS), plural)
        text = f"{subject} {verb} in the {_pick(rng, _PLACES)}{time}"
    elif kind == 1:
        subject, plural = _noun(rng, _PEOPLE, _PERSON_ADJ)
        if rng.random() < 0.5:
            food = f"{_pick(rng, _FOOD_ADJ)} {_pick(rng, _FOODS)}"
        else:
            food = _pick(rng, _FOODS)
        text = f"{subject} {_verb(_pick(rng, _PERSON_ACTS), plural)} {food}{time}"
    elif kind == 2:
        subject, plural = _noun(rng, _PEOPLE, _PERSON_ADJ)
        text = f"{subject} {_verb(_pick(rng, _READ_ACTS), plural)} {_pick(rng, _THINGS)}{time}"
    elif kind == 3:
        subject, plural = _noun(rng, _ANIMALS, _ANIMAL_ADJ)
        chased, _ = _noun(rng, _ANIMALS, _ANIMAL_ADJ)
        text = f"{subject} {_verb('chase', plural)} {chased}{time}"
    else:
        subject, plural = _noun(rng, _PEOPLE, _PERSON_ADJ)
        text = f"{subject} {_verb('walk', plural)} to the {_pick(rng, _PLACES)}{time}"
    return text[0].upper() + text[1:] + "."


def corpus_lines(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` lines, each one or (a third of the time) two sentences of the grammar."""
    return [" ".join(_sentence(rng) for _ in range(1 + (rng.random() < 1 / 3)))
            for _ in range(count)]


# Shapes: the class is the outline alone. Colours, size, position and rotation are drawn
# independently of it; areas are matched (circle 0.8 r, square r, triangle 1.2 r circumradius
# cover about 2 r^2 each), so neither colour nor size gives the class away.
_SHAPE_SCALE = {"circle": 0.8, "square": 1.0, "triangle": 1.2}
_SUPERSAMPLE = 4  # sub-pixels per side: antialiased edges, not staircase outlines


def shape_image(kind: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 image: one ``kind`` shape, lighter than its background.

    Any hue for both, but every channel of the shape is lighter than every channel of the
    background (background 0..0.4, shape 0.5..1): with one polarity an edge always reads
    the same way, so a small model learns outlines from a few hundred images. (With either
    polarity, the small CNN stayed at 0.41 validation accuracy on 300 images a class; with
    one, it reached 0.93.) Antialiased edges, Gaussian pixel noise of sd 0.04.
    """
    background = rng.uniform(0.0, 0.4, 3)
    colour = rng.uniform(0.5, 1.0, 3)
    radius = rng.uniform(0.25, 0.38) * size * _SHAPE_SCALE[kind]  # 6.4 to 14.6 pixels
    cx, cy = rng.uniform(radius, size - radius, 2)
    # Sub-pixel centres (size * s, size * s) in pixel units; coverage = mean over each pixel.
    y, x = (np.mgrid[0:size * _SUPERSAMPLE, 0:size * _SUPERSAMPLE] + 0.5) / _SUPERSAMPLE
    if kind == "circle":
        inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
    else:  # convex polygon: inside every edge's half-plane (vertices counter-clockwise)
        sides = 4 if kind == "square" else 3
        angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(sides) / sides
        vx, vy = cx + radius * np.cos(angles), cy + radius * np.sin(angles)
        inside = np.ones(x.shape, dtype=bool)
        for i in range(sides):
            j = (i + 1) % sides
            inside &= (vx[j] - vx[i]) * (y - vy[i]) - (vy[j] - vy[i]) * (x - vx[i]) >= 0
    coverage = inside.reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE).mean(axis=(1, 3))
    image = background + coverage[..., None] * (colour - background)  # (size, size, 3)
    image = image + rng.normal(0, 0.04, image.shape)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def shape_samples(per_shape: int, rng: np.random.Generator):
    """``(kind, index, image)`` for ``per_shape`` images of each shape, in file order."""
    for kind in SHAPES:
        for index in range(per_shape):
            yield kind, index, shape_image(kind, rng)


def _write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="\n")
    return f"{path}: {len(lines)} lines, {path.stat().st_size / 1024:.0f} KiB"


def write_samples(output, *, seed: int = 0, per_shape: int = 250,
                  per_word: int = 60) -> list[str]:
    """Write every sample file under ``output`` and return one summary line per file."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TfbigError(f"seed={seed!r}: expected a non-negative integer")
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise TfbigError(f"{output}: is a file (expected a folder to write the samples into)")
    output.mkdir(parents=True, exist_ok=True)
    rngs = [np.random.default_rng([seed, stream]) for stream in range(4)]
    summaries = [
        _write_lines(output / "dates.tsv", [f"{s}\t{t}" for s, t in date_pairs(8000, rngs[0])]),
        _write_lines(output / "reviews.tsv", [f"{t}\t{l}" for t, l in review_lines(1000, rngs[1])]),
        _write_lines(output / "corpus.txt", corpus_lines(4000, rngs[2])),
    ]
    # Pillow is matplotlib's own PNG writer (a dependency of it, not of tfbig); used directly
    # because matplotlib's imsave always writes RGBA. Imported here to keep --help fast.
    from PIL import Image

    total = 0
    for kind, index, image in shape_samples(per_shape, rngs[3]):
        path = output / "shapes" / kind / f"{kind}_{index:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path, format="png")
        total += path.stat().st_size
    summaries.append(f"{output / 'shapes'}: {len(SHAPES)} classes x {per_shape} PNGs, "
                     f"{total / 1024:.0f} KiB")
    summaries.append(write_word_clips(output / "audio", per_word=per_word, seed=seed))
    return summaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tfbig.data.samples",
        description="Generate the shipped sample data (dates.tsv, reviews.tsv, corpus.txt, "
                    "shapes/, audio/) deterministically from a seed.")
    parser.add_argument("--output", default="data", help="folder to write into (default: data)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    try:
        summaries = write_samples(args.output, seed=args.seed)
    except (TfbigError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for summary in summaries:
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
