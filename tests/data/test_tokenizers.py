"""Tests of tfbig.data.tokenizers: normalisation, both tokenizer kinds, saving, tf.data use.

Each learned tokenizer is built once per module (fixtures below) to keep the file fast.
Every operation that must work in a pipeline is checked eagerly, inside ``tf.data`` and
inside ``tf.function``: the three can differ.
"""

import json
import random

import numpy as np
import pytest
import tensorflow as tf
from helpers import round_trip_in_tf_function

from tfbig import special_tokens
from tfbig.data.text_normalization import normalize_text
from tfbig.data.tokenizers import (CharTokenizer, WordPieceTokenizer, learn_tokenizer,
                                   load_tokenizer)
from tfbig.errors import TfbigError

CORPUS = [
    "The cat sat on the mat, happily!",
    "Für Elise is a piece (for piano).",
    "A café in Paris; the coffee is good?",
    "The dog sat on the log: a good dog.",
    "你好，世界 👨‍👩‍👧 ❤️",
] * 3

# In-vocabulary texts, already normalised for lower_case=True, whose punctuation follows the
# WordPiece spacing rule, so both kinds must give them back unchanged.
ROUND_TRIP_TEXTS = [
    "the cat sat on the mat, happily!",
    "für elise is a piece (for piano).",
    "a café in paris; the coffee is good?",
]


def decode(strings):
    """String tensor [batch] -> list of str."""
    return [s.decode("utf-8") for s in strings.numpy()]


def two_hundred_words():
    """200 distinct made-up lower-case words of 5 to 8 letters."""
    rng = random.Random(0)
    words = set()
    while len(words) < 200:
        words.add("".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                          for _ in range(rng.randint(5, 8))))
    return sorted(words)


@pytest.fixture(scope="module")
def char_tokenizer():
    return learn_tokenizer("char", CORPUS, vocab_size=200, lower_case=True)


@pytest.fixture(scope="module")
def wordpiece_tokenizer():
    return learn_tokenizer("wordpiece", CORPUS, vocab_size=500, lower_case=True)


@pytest.fixture(scope="module")
def word_tokenizer():
    return learn_tokenizer("word", CORPUS, vocab_size=500, lower_case=True)


@pytest.fixture(scope="module", params=["char", "word", "wordpiece"])
def tokenizer(request, char_tokenizer, word_tokenizer, wordpiece_tokenizer):
    """The learned tokenizers, for tests of the shared interface."""
    return {"char": char_tokenizer, "word": word_tokenizer,
            "wordpiece": wordpiece_tokenizer}[request.param]


# ---------------------------------------------------------------------------- normalisation
def test_normalize_text_tidies_whitespace_and_keeps_accents_when_lower_casing():
    strings = normalize_text(["  Für\t\tCAFÉ\n\u00a0x\u2028y "], lower_case=True)
    assert decode(strings) == ["für café x y"]


def test_normalize_text_strips_accents_only_when_asked():
    assert decode(normalize_text(["Für café"], strip_accents=True)) == ["Fur cafe"]
    # NFD also splits Hangul syllables into jamo; they must come back whole.
    assert decode(normalize_text(["한국어"], strip_accents=True)) == ["한국어"]


def test_normalize_text_keeps_emoji_sequences_when_lower_casing():
    family = "👨\u200d👩\u200d👧 ❤\ufe0f"
    assert decode(normalize_text([family], lower_case=True)) == [family]


def test_normalize_text_applies_the_unicode_form():
    assert decode(normalize_text(["ﬁ ＡＢＣ"])) == ["fi ABC"]
    assert decode(normalize_text(["ﬁ"], form=None)) == ["ﬁ"]


def test_normalize_text_rejects_unknown_form():
    with pytest.raises(TfbigError, match=r"unknown Unicode normalization form 'NFX'.*'NFKC'"):
        normalize_text(["x"], form="NFX")


# ---------------------------------------------------------------------- shared interface
def test_special_token_ids_are_fixed(tokenizer):
    assert special_tokens.SPECIAL_TOKENS == (
        "[PAD]", "[UNK]", "[START]", "[END]", "[CLS]", "[SEP]", "[MASK]")
    assert tokenizer.vocabulary[:7] == list(special_tokens.SPECIAL_TOKENS)
    ids = (tokenizer.pad_id, tokenizer.unk_id, tokenizer.start_id, tokenizer.end_id,
           tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id)
    assert ids == (0, 1, 2, 3, 4, 5, 6)
    assert (special_tokens.PAD_ID, special_tokens.MASK_ID) == (0, 6)
    assert tokenizer.vocab_size == len(tokenizer.vocabulary)


def test_tokenize_returns_int32_ragged_without_special_tokens(tokenizer):
    ids = tokenizer.tokenize(np.array(["the cat", ""]))
    assert isinstance(ids, tf.RaggedTensor)
    assert ids.dtype == tf.int32
    assert ids.shape.rank == 2
    assert ids.to_list()[1] == []
    assert min(ids.flat_values.numpy()) >= special_tokens.NUM_SPECIAL_TOKENS


def test_round_trip_of_in_vocabulary_text(tokenizer):
    ids = tokenizer.tokenize(tf.constant(ROUND_TRIP_TEXTS))
    assert decode(tokenizer.detokenize(ids)) == ROUND_TRIP_TEXTS
    assert tokenizer.unk_id not in ids.flat_values.numpy()


def test_round_trip_gives_back_the_normalised_raw_text(tokenizer):
    """detokenize(tokenize(x)) == normalize_text(x) for raw, un-normalised in-vocabulary x."""
    raw = ["  The CAT sat\ton the MAT,\u00a0happily!\n", "ＦÜR Elise is a\u2028piece (for piano).",
           "A café in PARIS;\r\nthe coffee is good?"]
    expected = decode(normalize_text(raw, lower_case=True))
    assert expected == ROUND_TRIP_TEXTS  # the raw texts really needed normalising
    ids = tokenizer.tokenize(raw)
    assert tokenizer.unk_id not in ids.flat_values.numpy()
    assert decode(tokenizer.detokenize(ids)) == expected


def test_lower_case_keeps_accents(tokenizer):
    ids = tokenizer.tokenize(["FÜR CAFÉ"])
    assert tokenizer.unk_id not in ids.flat_values.numpy()
    assert decode(tokenizer.detokenize(ids)) == ["für café"]


@pytest.mark.parametrize("kind", ["char", "word", "wordpiece"])
def test_strip_accents_removes_them_from_vocabulary_and_text(kind):
    tokenizer = learn_tokenizer(kind, ["Für café crème"], vocab_size=100, strip_accents=True)
    assert not {"ü", "é", "è"} & set(tokenizer.vocabulary)
    ids = tokenizer.tokenize(["Für café crème"])
    assert decode(tokenizer.detokenize(ids)) == ["Fur cafe creme"]


def test_detokenize_drops_padding_and_every_special_token(tokenizer):
    ids = tokenizer.tokenize(["the cat", "a good dog."]).to_tensor()  # padded with 0
    start = tf.fill([2, 1], tokenizer.start_id)
    end = tf.fill([2, 1], tokenizer.end_id)
    specials = tf.constant([[4, 5, 6, 1]] * 2)  # [CLS] [SEP] [MASK] [UNK]
    framed = tf.concat([start, ids, specials, end, tf.zeros([2, 3], tf.int32)], axis=1)
    assert decode(tokenizer.detokenize(framed)) == ["the cat", "a good dog."]
    # int64 ids, ids past the vocabulary and plain lists are accepted too.
    too_big = tokenizer.vocab_size + 5
    assert decode(tokenizer.detokenize(tf.cast(framed, tf.int64))) == ["the cat", "a good dog."]
    assert decode(tokenizer.detokenize([ids[0].numpy().tolist() + [too_big], []])) == [
        "the cat", ""]


def test_save_and_load_give_identical_ids_and_strings(tokenizer, tmp_path):
    folder = tokenizer.save(tmp_path / "run" / "tokenizer")
    assert (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:7] == list(
        special_tokens.SPECIAL_TOKENS)
    loaded = load_tokenizer(folder)
    assert type(loaded) is type(tokenizer)
    assert loaded.vocabulary == tokenizer.vocabulary
    assert loaded.options == tokenizer.options == {
        "normalization": "NFKC", "lower_case": True, "strip_accents": False}
    ids = tokenizer.tokenize(CORPUS)
    assert loaded.tokenize(CORPUS).to_list() == ids.to_list()
    assert decode(loaded.detokenize(ids)) == decode(tokenizer.detokenize(ids))


def test_works_per_example_and_batched_inside_tf_data(tokenizer):
    texts = tf.data.Dataset.from_tensor_slices(CORPUS)
    per_example = texts.map(lambda text: tokenizer.tokenize(text[None])[0])
    batched = texts.batch(4).map(tokenizer.tokenize)
    eager = tokenizer.tokenize(CORPUS).to_list()
    assert [ids.numpy().tolist() for ids in per_example] == eager
    assert [row for batch in batched for row in batch.to_list()] == eager
    round_trip = texts.batch(4).map(lambda t: tokenizer.detokenize(tokenizer.tokenize(t)))
    assert [s for batch in round_trip for s in decode(batch)] == decode(
        tokenizer.detokenize(tokenizer.tokenize(CORPUS)))


def test_works_inside_tf_function(tokenizer):
    assert round_trip_in_tf_function(tokenizer, ROUND_TRIP_TEXTS) == ROUND_TRIP_TEXTS


def test_tokenize_rejects_a_single_string(tokenizer):
    with pytest.raises(TfbigError, match=r"got a single string; wrap it in a list"):
        tokenizer.tokenize("the cat")
    with pytest.raises(TfbigError, match=r"1-D batch of strings, got shape \(1, 1\)"):
        tokenizer.tokenize([["the cat"]])


def test_detokenize_rejects_wrong_shapes_and_types(tokenizer):
    with pytest.raises(TfbigError, match=r"shape \[batch, T\] or \[batch, \(T\)\], got shape"):
        tokenizer.detokenize(tf.constant([7, 8]))
    with pytest.raises(TfbigError, match=r"takes integer ids, got dtype float32"):
        tokenizer.detokenize(tf.constant([[7.0]]))


# ------------------------------------------------------------------------ char tokenizer
def test_char_round_trip_of_cjk_and_emoji(char_tokenizer):
    text = "你好，世界 👨‍👩‍👧 ❤️"
    ids = char_tokenizer.tokenize([text])
    assert len(ids[0]) == len(normalize_text([text]).numpy()[0].decode())
    assert char_tokenizer.unk_id not in ids.flat_values.numpy()
    assert decode(char_tokenizer.detokenize(ids)) == decode(normalize_text([text]))


def test_char_unknown_characters_become_unk(char_tokenizer):
    ids = char_tokenizer.tokenize(["cat€"]).to_list()[0]
    assert ids[-1] == char_tokenizer.unk_id
    assert char_tokenizer.unk_id not in ids[:-1]


def test_char_vocabulary_keeps_the_most_frequent_characters():
    tokenizer = learn_tokenizer("char", ["aaaaa bbbb cc d"], vocab_size=10)
    assert tokenizer.vocabulary[7:] == ["a", "b", " "]
    tokenizer = learn_tokenizer("char", ["aaaaa bbbb cc d"], vocab_size=100, min_count=2)
    assert tokenizer.vocabulary[7:] == ["a", "b", " ", "c"]


def test_char_vocabulary_must_hold_single_characters():
    with pytest.raises(TfbigError, match=r"token 7 is 'ab'; .* exactly one character"):
        CharTokenizer([*special_tokens.SPECIAL_TOKENS, "ab"])


# ------------------------------------------------------------------------ word tokenizer
def test_word_tokenizer_looks_up_whole_words(word_tokenizer):
    vocabulary = word_tokenizer.vocabulary
    pieces = [vocabulary[i] for i in word_tokenizer.tokenize(["The  CAT\tsat cats mat,"])[0]]
    assert pieces == ["the", "cat", "sat", "[UNK]", "mat,"]  # punctuation stays on its word
    assert decode(word_tokenizer.detokenize(word_tokenizer.tokenize(["cats sat"]))) == ["sat"]


def test_word_vocabulary_is_most_frequent_first_and_never_a_special_token():
    tokenizer = learn_tokenizer("word", ["b a b", "c b [MASK] a", "[PAD]"], vocab_size=9)
    assert tokenizer.vocabulary == [*special_tokens.SPECIAL_TOKENS, "b", "a"]  # c cut off
    assert tokenizer.tokenize(["[MASK] c"]).to_list() == [[1, 1]]  # plain text: [UNK]
    assert learn_tokenizer("word", ["b a b", "c"], min_count=2).vocabulary[7:] == ["b"]


def test_word_vocabulary_must_hold_single_words():
    from tfbig.data.tokenizers import WordTokenizer

    with pytest.raises(TfbigError, match=r"token 7 is 'a b'; .* one word without whitespace"):
        WordTokenizer([*special_tokens.SPECIAL_TOKENS, "a b"])


# ------------------------------------------------------------------- wordpiece tokenizer
def test_wordpiece_splits_unseen_words_into_pieces_and_unknowns(wordpiece_tokenizer):
    pieces = [wordpiece_tokenizer.vocabulary[i]
              for i in wordpiece_tokenizer.tokenize(["catsat €"]).to_list()[0]]
    assert pieces[0] == "cat" and pieces[-1] == "[UNK]"
    assert all(piece.startswith("##") for piece in pieces[1:-1])


def test_wordpiece_detokenize_spacing_rule(wordpiece_tokenizer):
    ids = wordpiece_tokenizer.tokenize(["the dog ( sat ) , on the mat ! ; : ?"])
    assert decode(wordpiece_tokenizer.detokenize(ids)) == ["the dog (sat), on the mat!;:?"]


def test_wordpiece_small_corpus_is_not_capped_by_a_min_count():
    # The learner's default lower_thresh=10 would leave only characters here.
    words = two_hundred_words()
    tokenizer = learn_tokenizer("wordpiece", [" ".join(words)] * 2, vocab_size=8000)
    ids = tokenizer.tokenize(words)
    assert ids.row_lengths().numpy().tolist() == [1] * 200
    assert decode(tokenizer.detokenize(ids)) == words


def test_wordpiece_vocabulary_fits_vocab_size():
    words = two_hundred_words()
    tokenizer = learn_tokenizer("wordpiece", [" ".join(words)] * 2, vocab_size=100)
    assert tokenizer.vocab_size <= 100
    ids = tokenizer.tokenize(words)  # every word can still be spelled with pieces
    assert tokenizer.unk_id not in ids.flat_values.numpy()
    assert decode(tokenizer.detokenize(ids)) == words


def test_wordpiece_constructor_checks_the_special_tokens():
    with pytest.raises(TfbigError, match=r"must start with the special tokens .* prepend"):
        WordPieceTokenizer(["[UNK]", "[PAD]", "hello"])


# ---------------------------------------------------------------------- learning errors
def test_learn_rejects_unknown_kind():
    with pytest.raises(TfbigError, match=r"unknown tokenizer kind 'bpe'; valid kinds: char, "
                                         r"word, wordpiece"):
        learn_tokenizer("bpe", CORPUS)


def test_learn_rejects_a_vocab_size_too_small_for_the_special_tokens():
    with pytest.raises(TfbigError, match=r"vocab_size must be an int of at least 8 .* got 7"):
        learn_tokenizer("char", CORPUS, vocab_size=7)


def test_learn_rejects_bad_texts():
    with pytest.raises(TfbigError, match=r"got a single string; wrap it in a list"):
        learn_tokenizer("char", "some text")
    with pytest.raises(TfbigError, match=r"texts\[1\] is a int; expected str"):
        learn_tokenizer("wordpiece", ["ok", 3])
    with pytest.raises(TfbigError, match=r"texts are empty"):
        learn_tokenizer("wordpiece", ["   ", ""])
    with pytest.raises(TfbigError, match=r"min_count must be None or an int >= 1, got 0"):
        learn_tokenizer("char", CORPUS, min_count=0)


def test_learn_streams_a_generator():
    tokenizer = learn_tokenizer("char", (line for line in CORPUS), vocab_size=100)
    assert "ü" in tokenizer.vocabulary


# ------------------------------------------------------------------------ loading errors
def test_load_reports_a_missing_folder(tmp_path):
    with pytest.raises(TfbigError, match=r"tokenizer folder .*nowhere does not exist"):
        load_tokenizer(tmp_path / "nowhere")


def test_load_reports_missing_and_malformed_files(char_tokenizer, tmp_path):
    folder = char_tokenizer.save(tmp_path / "tok")
    (folder / "vocab.txt").unlink()
    with pytest.raises(TfbigError, match=r"tokenizer vocabulary .*vocab\.txt is missing"):
        load_tokenizer(folder)

    folder = char_tokenizer.save(tmp_path / "tok")
    config_file = folder / "tokenizer.json"
    config_file.write_text("{not json", encoding="utf-8")
    with pytest.raises(TfbigError, match=r"tokenizer config .*tokenizer\.json is not valid JSON"):
        load_tokenizer(folder)

    config = {"kind": "bpe", "vocab_size": char_tokenizer.vocab_size,
              **char_tokenizer.options}
    config_file.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(TfbigError, match=r"tokenizer\.json has kind 'bpe'; valid kinds: char"):
        load_tokenizer(folder)

    config_file.write_text(json.dumps({"kind": "char"}), encoding="utf-8")
    with pytest.raises(TfbigError, match=r"tokenizer\.json has no valid 'vocab_size' field"):
        load_tokenizer(folder)

    config_file.unlink()
    with pytest.raises(TfbigError, match=r"tokenizer config .*tokenizer\.json is missing"):
        load_tokenizer(folder)


def test_load_reports_a_truncated_vocabulary(char_tokenizer, tmp_path):
    folder = char_tokenizer.save(tmp_path / "tok")
    vocab_file = folder / "vocab.txt"
    lines = vocab_file.read_text(encoding="utf-8").split("\n")
    vocab_file.write_text("\n".join(lines[:10]) + "\n", encoding="utf-8")
    with pytest.raises(TfbigError, match=r"vocab\.txt has 10 tokens but .*tokenizer\.json "
                                         r"says vocab_size="):
        load_tokenizer(folder)
    vocab_file.write_text("\n".join(["[UNK]", "[PAD]", *lines[2:]]), encoding="utf-8")
    with pytest.raises(TfbigError, match=r"tok: a char vocabulary must start with the special"):
        load_tokenizer(folder)
