"""Tests for tfbig.data.samples: deterministic, correct, balanced sample data."""

import collections
import datetime
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tfbig.data import samples, samples_audio
from tfbig.data.audio_files import list_audio
from tfbig.data.sources import list_images, read_labelled, read_pairs, read_texts
from tfbig.errors import TfbigError
from tfbig.tasks.data_files import SAMPLE_DIR
from tfbig.tasks import resolve_config

DATA = Path(__file__).resolve().parents[2] / "data"  # the shipped samples, readable copy
PACKAGED = Path(SAMPLE_DIR)  # the copy inside the package, which the commands read
TEXT_FILES = ("dates.tsv", "reviews.tsv", "corpus.txt")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The samples written twice with seed 0, and once with seed 1."""
    folders = {}
    for name, seed in (("a", 0), ("b", 0), ("other", 1)):
        folders[name] = tmp_path_factory.mktemp(name)
        samples.write_samples(folders[name], seed=seed, per_shape=10, per_word=4)
    return folders


def all_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(generated):
    first, second = all_files(generated["a"]), all_files(generated["b"])
    assert len(first) == 3 + 3 * 10 + 5 * 4
    assert first == second


def test_other_seed_other_data(generated):
    for name in (*TEXT_FILES, "audio/kapi/kapi_000.wav"):
        assert (generated["a"] / name).read_bytes() != (generated["other"] / name).read_bytes()


def test_the_packaged_samples_are_the_repository_copy_byte_for_byte():
    # One source of truth: after `python -m tfbig.data.samples --output data`, copy data/
    # (without README.md) to tfbig/sample_data/.
    repository = {name: data for name, data in all_files(DATA).items() if name != "README.md"}
    packaged = all_files(PACKAGED)
    assert sorted(packaged) == sorted(repository)
    assert len(packaged) == len(TEXT_FILES) + 3 * 250 + 5 * 60
    different = [name for name in packaged if packaged[name] != repository[name]]
    assert not different, different[:5]


def test_every_task_finds_its_packaged_sample_from_any_folder(tmp_path, monkeypatch):
    from tfbig.tasks import AVAILABLE, get_task

    monkeypatch.chdir(tmp_path)  # no data/ here: the package's copy is used
    for task in AVAILABLE:
        path = Path(get_task(resolve_config({"task": task})).data_path())
        assert path.exists() and path.parent == PACKAGED, task


def test_shipped_text_files_match_the_generator(generated):
    # data/ must be what `python -m tfbig.data.samples` writes; regenerate it if this fails.
    for name in TEXT_FILES:
        assert (DATA / name).read_bytes() == (generated["a"] / name).read_bytes(), name


@pytest.mark.parametrize("day, word, number", [
    (1, "first", "1st"), (2, "second", "2nd"), (3, "third", "3rd"), (4, "fourth", "4th"),
    (11, "eleventh", "11th"), (12, "twelfth", "12th"), (13, "thirteenth", "13th"),
    (20, "twentieth", "20th"), (21, "twenty-first", "21st"), (22, "twenty-second", "22nd"),
    (23, "twenty-third", "23rd"), (29, "twenty-ninth", "29th"), (30, "thirtieth", "30th"),
    (31, "thirty-first", "31st"),
])
def test_ordinals(day, word, number):
    assert samples.ordinal_word(day) == word
    assert samples.ordinal_number(day) == number


def test_each_date_format_on_a_known_date():
    sources = [form(datetime.date(2021, 3, 4)) for form in samples.DATE_FORMATS]
    for expected in ("March 4, 2021", "4 March 2021", "Thursday, 4 March 2021",
                     "the fourth of March 2021", "4th Mar 2021", "Mar 4th, 2021", "march 4 2021",
                     "4 mar. 2021", "2021, March the 4th", "the 4th of march, 2021",
                     "Thu, Mar 4, 2021", "Thursday the fourth of March, 2021"):
        assert expected in sources
    assert samples.DATE_FORMATS[7](datetime.date(2000, 5, 9)) == "9 may 2000"  # no "may."


def parse_source(source: str) -> datetime.date:
    """An independent reading of a generated date: month name, day (digits or words), year."""
    words = source.lower().replace(",", " ").replace(".", " ").split()
    month = next(i + 1 for i, name in enumerate(samples.MONTHS)
                 for w in words if w in (name.lower(), name.lower()[:3]))
    year = next(int(w) for w in words if re.fullmatch(r"\d{4}", w))
    ordinal_words = {samples.ordinal_word(d): d for d in range(1, 32)}
    day = next(int(re.match(r"\d+", w).group()) if w[0].isdigit() else ordinal_words[w]
               for w in words if re.fullmatch(r"\d{1,2}(st|nd|rd|th)?", w) or w in ordinal_words)
    parsed = datetime.date(year, month, day)
    weekdays = [i for i, name in enumerate(samples.WEEKDAYS)
                for w in words if w in (name.lower(), name.lower()[:3])]
    assert weekdays in ([], [parsed.weekday()]), source
    return parsed


def test_shipped_dates_are_correct_and_varied():
    pairs = list(read_pairs(DATA / "dates.tsv"))
    assert len(pairs) == 8000
    years = set()
    for source, target in pairs:
        date = datetime.date.fromisoformat(target)
        assert parse_source(source) == date, (source, target)
        years.add(date.year)
    assert min(years) == 1950 and max(years) == 2049
    assert not any(re.search(r"\d+/\d+", source) for source, _ in pairs)
    # Formats mixed about uniformly: 2 of the 12 start with "the ".
    share = sum(source.startswith("the ") for source, _ in pairs) / len(pairs)
    assert abs(share - 2 / 12) < 0.02


def test_shipped_reviews_are_balanced_and_need_more_than_one_keyword():
    reviews = list(read_labelled(DATA / "reviews.tsv"))
    labels = collections.Counter(label for _, label in reviews)
    assert labels == {"positive": 1000, "negative": 1000, "neutral": 1000}
    words = {w for text, _ in reviews for w in re.findall(r"[a-z]+", text.lower())}
    assert 150 <= len(words) <= 500
    # "not" and contrast ("but") occur in every class: no single word gives the label away.
    for word in ("not", "but", "great", "terrible"):
        having = collections.Counter(label for text, label in reviews
                                     if word in re.findall(r"[a-z]+", text.lower()))
        assert len(having) == 3 and max(having.values()) < 0.8 * sum(having.values()), word


def test_review_labels_follow_negation():
    # "not good" and "not okay" are bad (-1), "not bad" only lukewarm (0).
    expected = {"good": -1, "meh": -1, "bad": 0}
    word_class = {**dict.fromkeys(samples._GOOD, "good"), **dict.fromkeys(samples._MEH, "meh"),
                  **dict.fromkeys(samples._BAD, "bad")}
    rng = np.random.default_rng(0)
    negated = collections.Counter()
    for _ in range(300):
        clause, score = samples._review_clause(rng)
        if " is not " in clause:
            kind = word_class[clause.split()[-1]]
            negated[kind] += 1
            assert score == expected[kind], clause
    # The check above ran, for every kind of adjective: a quarter of the clauses negate, so
    # ~25 of each kind are expected (seed 0 gives 24 good, 23 okay, 16 bad).
    assert set(negated) == set(expected) and min(negated.values()) >= 10, negated


def test_shipped_corpus_beats_a_unigram_model():
    lines = list(read_texts(DATA / "corpus.txt"))
    assert len(lines) == 4000
    tokens = [line.lower().replace(".", " .").split() for line in lines]
    train, test = tokens[:3600], tokens[3600:]
    unigram = collections.Counter(w for t in train for w in t)
    bigram = collections.Counter(p for t in train for p in zip(["<s>"] + t, t))
    context = collections.Counter(w for t in train for w in ["<s>"] + t)
    total, vocab = sum(unigram.values()), len(unigram) + 1
    assert 100 <= vocab <= 500
    uni = bi = count = 0.0
    for t in test:
        for previous, word in zip(["<s>"] + t, t):
            p_uni = (unigram[word] + 1) / (total + vocab)
            p_bi = 0.9 * bigram[previous, word] / max(context[previous], 1) + 0.1 * p_uni
            uni, bi, count = uni - np.log(p_uni), bi - np.log(p_bi), count + 1
    assert np.exp(bi / count) < 0.3 * np.exp(uni / count)  # bigram perplexity far lower


def test_shipped_shapes():
    paths, labels, class_names = list_images(DATA / "shapes")
    assert class_names == list(samples.SHAPES)
    assert collections.Counter(labels) == {0: 250, 1: 250, 2: 250}
    import matplotlib.image

    image = matplotlib.image.imread(paths[0])
    assert image.shape == (32, 32, 3)


def test_shipped_shapes_match_the_generator():
    # data/shapes must be what `python -m tfbig.data.samples` writes. Pixels are compared,
    # not PNG bytes: another zlib may compress the same pixels into other bytes.
    from PIL import Image

    rng = np.random.default_rng([0, 3])  # seed 0, the stream of the fourth file (shapes)
    for kind, index, image in samples.shape_samples(250, rng):
        name = f"{kind}/{kind}_{index:03d}.png"
        np.testing.assert_array_equal(np.asarray(Image.open(DATA / "shapes" / name)), image,
                                      err_msg=name)


@pytest.mark.parametrize("kind", samples.SHAPES)
def test_shape_image(kind):
    image = samples.shape_image(kind, np.random.default_rng(0))
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert image.std() > 10  # a visible shape, not a flat colour


def test_only_the_outline_tells_the_shapes_apart():
    # Area and colour are drawn the same way for every class: their class means agree.
    images = collections.defaultdict(list)
    for kind, _, image in samples.shape_samples(200, np.random.default_rng(1)):
        images[kind].append(image / 255.0)
    areas, colours = {}, {}
    for kind, stack in images.items():
        stack = np.stack(stack)  # (200, 32, 32, 3)
        lit = stack.mean(axis=-1) > 0.45  # the shape: every channel above 0.5, the rest below 0.4
        areas[kind] = lit.mean()
        colours[kind] = stack.mean(axis=(0, 1, 2))
    assert 0.15 < min(areas.values()) and max(areas.values()) < 1.15 * min(areas.values())
    for kind in samples.SHAPES:
        np.testing.assert_allclose(colours[kind], colours["circle"], atol=0.03)


def test_shipped_data_is_small():
    size = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert size < 6 * 2**20
    audio = sum(p.stat().st_size for p in (DATA / "audio").rglob("*.wav"))
    assert audio < 3 * 10**6


def read_clip(path) -> tuple[np.ndarray, int]:
    """A shipped clip's int16 samples and rate, checking it is 16-bit mono PCM."""
    with wave.open(str(path), "rb") as file:
        assert (file.getnchannels(), file.getsampwidth(), file.getcomptype()) == (1, 2, "NONE")
        return np.frombuffer(file.readframes(file.getnframes()), "<i2"), file.getframerate()


def test_shipped_audio():
    paths, labels, class_names = list_audio(DATA / "audio")
    assert class_names == list(samples_audio.WORDS)
    assert collections.Counter(labels) == {label: 60 for label in range(5)}
    for path in paths:
        clip, rate = read_clip(path)
        assert rate == samples_audio.AUDIO_RATE and 0.4 <= len(clip) / rate <= 0.7, path
        assert 0 < np.abs(clip).max() < 0.7 * 2**15, path  # audible, never clipped


def test_shipped_audio_matches_the_generator(generated):
    # data/audio must be what `python -m tfbig.data.samples` writes: each clip has its own
    # random stream, so the first 4 clips of a word are the generated folder's 4. Samples
    # may differ by one step: another NumPy may round a sine's last bit differently.
    for word in samples_audio.WORDS:
        for index in range(4):
            name = f"audio/{word}/{word}_{index:03d}.wav"
            shipped, _ = read_clip(DATA / name)
            fresh, _ = read_clip(generated["a"] / name)
            assert len(shipped) == len(fresh), name
            assert np.abs(shipped.astype(int) - fresh).max() <= 1, name


def test_only_the_sounds_tell_the_words_apart():
    # Every word has four sounds scaled to one length, so from the same random stream all
    # five words last exactly as long; clip length, level and onset are drawn the same way
    # for every word, so their class means agree.
    for seed in range(3):
        lengths = {len(samples_audio.spoken_word(word, np.random.default_rng(seed)))
                   for word in samples_audio.WORDS}
        assert len(lengths) == 1, lengths
    paths, labels, _ = list_audio(DATA / "audio")
    stats = collections.defaultdict(list)
    for path, label in zip(paths, labels):
        clip, rate = read_clip(path)
        level = 20 * np.log10(np.sqrt(np.mean((clip / 2**15) ** 2)))
        stats[label].append((len(clip) / rate, level))
    means = np.array([np.mean(stats[label], axis=0) for label in sorted(stats)])  # (5, 2)
    assert np.ptp(means[:, 0]) < 0.05  # seconds; clips are 0.4 to 0.7 s
    assert np.ptp(means[:, 1]) < 3.0  # dB; word levels span 16 dB


def test_bad_seed_and_output(tmp_path):
    with pytest.raises(TfbigError, match=re.escape("seed=-1: expected a non-negative integer")):
        samples.write_samples(tmp_path, seed=-1)
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(TfbigError, match=re.escape(
            f"{file}: is a file (expected a folder to write the samples into)")):
        samples.write_samples(file)


def test_command_line_help_and_one_line_errors(tmp_path):
    help_run = subprocess.run([sys.executable, "-m", "tfbig.data.samples", "--help"],
                              capture_output=True, text=True, timeout=30)
    assert help_run.returncode == 0 and "--seed" in help_run.stdout
    file = tmp_path / "file"
    file.write_text("")
    bad = subprocess.run([sys.executable, "-m", "tfbig.data.samples", "--output", str(file)],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2
    assert bad.stderr == f"error: {file}: is a file (expected a folder to write the samples into)\n"


def test_data_sources_splits_and_samples_do_not_import_tensorflow():
    code = ("import sys, tfbig.data.sources, tfbig.data.splits, tfbig.data.samples; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "[]", run.stderr
