"""Tests of tfbig.data.subword_tokenizer: ▁-marked WordPiece with an exact round trip.

The learned tokenizer is built once per module (fixture below) to keep the file fast. What
must hold in a translation pipeline is checked eagerly, inside ``tf.data`` and inside
``tf.function``: the three can differ.
"""

import random

import pytest
import tensorflow as tf
from helpers import round_trip_in_tf_function

from tfbig import special_tokens
from tfbig.data.subword_tokenizer import (WORD_START, SubwordTokenizer, learn_subword_vocabulary,
                                          split_marked_words)
from tfbig.data.text_normalization import normalize_text
from tfbig.data.tokenizers import TOKENIZER_KINDS, learn_tokenizer, load_tokenizer

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "It's 3.5 km to the station (roughly), isn't it?",
    'She said: "Don\'t worry -- we\'ll be there at 10:30!"',
    "Prices rose by 12% in 2023; analysts were surprised.",
    "Brackets: (a) [b] {c} <d> and 'e' or x/y.",
    "L'homme est allé à la plage aujourd'hui.",
    "« Bonjour ! » a-t-il dit, avant de partir.",
    "C'est l'été : qu'est-ce qu'on fait ?",
    "Il a acheté un T-Shirt à 15 € pour sa sœur.",
    "Für die Straße braucht man ein T-Shirt.",
    "Größere Häuser kosten mehr – das weiß jeder.",
    "„Guten Tag!“, sagte der Bäcker um 8.15 Uhr.",
    "Das Mädchen isst Äpfel, Birnen und Brötchen.",
    "你好，世界。",
] * 3

# Made of CORPUS's characters, mostly not of its words: each must come back exactly as
# normalize_text makes it (single spaces, nothing at the ends, punctuation where it was).
ROUND_TRIP_TEXTS = [
    "L'homme porte un T-Shirt, « Bonjour ! »",
    "aujourd'hui, l'été : qu'est-ce qu'on fait ?",
    "Für die Straße – „Guten Tag!“",
    "It's 3.5 km (roughly) -- isn't it?",
    '"Don\'t!" she said.',
    "Prices: 12%, 10:30, 8.15 Uhr; (x) [y] {z} <a> 'b' x/y",
    "The fox's T-Shirts cost 15 € für Mädchen!",
    "Größere Häuser... ((3.5 km))",
    "你好，世界。 Hallo 你好!",
    "-- ' « » ! ? .",
    "a",
    "",
]


def decode(strings):
    """String tensor [batch] -> list of str."""
    return [s.decode("utf-8") for s in strings.numpy()]


def pieces(tokenizer, text):
    """The vocabulary tokens ``text`` is split into."""
    return [tokenizer.vocabulary[i] for i in tokenizer.tokenize([text]).to_list()[0]]


@pytest.fixture(scope="module")
def tokenizer():
    return learn_tokenizer("subword", CORPUS, vocab_size=400)


def test_is_a_registered_kind():
    assert TOKENIZER_KINDS["subword"] == (SubwordTokenizer, learn_subword_vocabulary)
    assert SubwordTokenizer.kind == "subword"


# --------------------------------------------------------------------- pre-tokenisation
def test_marks_word_starts_and_splits_off_punctuation_keeping_the_marker_glued():
    words = split_marked_words(["the  man, l'homme « T-Shirt » 3.5 (x) 你好"])
    assert [word.decode() for word in words[0].numpy()] == [
        "▁the", "▁man", ",", "▁l", "'", "homme", "▁«", "▁T", "-", "Shirt", "▁»", "▁3", ".",
        "5", "▁(", "x", ")", "▁你", "好"]
    assert split_marked_words(["", "   "]).to_list() == [[], []]


def test_the_marker_is_part_of_the_first_piece_not_a_token_of_its_own():
    vocabulary = [*special_tokens.SPECIAL_TOKENS, "▁the", "▁man", "▁«", "▁Bonjour", "▁!",
                  "▁»", "▁", "##s"]
    tokenizer = SubwordTokenizer(vocabulary)
    assert tokenizer.tokenize(["the man"]).to_list() == [[7, 8]]
    assert tokenizer.tokenize(["« Bonjour ! »"]).to_list() == [[9, 10, 11, 12]]
    assert pieces(tokenizer, "the mans") == ["▁the", "▁man", "##s"]
    assert pieces(tokenizer, "s") == ["▁", "##s"]  # the bare marker only where it must be


def test_a_literal_marker_is_read_as_a_space(tokenizer):
    ids = tokenizer.tokenize(["die Straße", "die▁Straße", "▁die ▁ Straße▁"]).to_list()
    assert ids[0] == ids[1] == ids[2]
    assert decode(tokenizer.detokenize(ids)) == ["die Straße"] * 3


# ---------------------------------------------------------------------------- round trip
def test_exact_round_trip_of_tricky_sentences(tokenizer):
    expected = decode(normalize_text(ROUND_TRIP_TEXTS))
    ids = tokenizer.tokenize(ROUND_TRIP_TEXTS)
    assert tokenizer.unk_id not in ids.flat_values.numpy()
    assert decode(tokenizer.detokenize(ids)) == expected
    assert expected[0] == "L'homme porte un T-Shirt, « Bonjour ! »"  # nothing to normalise


def test_round_trip_gives_back_the_normalised_raw_text(tokenizer):
    raw = ["  L'homme\tporte\u00a0un  T-Shirt ,\n« Bonjour ! » ", "Ｆür  die Straße\u2028(3.5)"]
    ids = tokenizer.tokenize(raw)
    assert tokenizer.unk_id not in ids.flat_values.numpy()
    assert decode(tokenizer.detokenize(ids)) == [
        "L'homme porte un T-Shirt , « Bonjour ! »", "Für die Straße (3.5)"]


def test_no_unk_and_exact_round_trip_for_random_text_of_known_characters(tokenizer):
    alphabet = sorted(token for token in tokenizer.vocabulary[7:]
                      if len(token) == 1 and token != WORD_START)
    rng = random.Random(0)
    texts = [" ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
                      for _ in range(rng.randint(1, 8))) for _ in range(200)]
    ids = tokenizer.tokenize(texts)
    assert tokenizer.unk_id not in ids.flat_values.numpy()
    assert decode(tokenizer.detokenize(ids)) == decode(normalize_text(texts))


def test_a_rare_word_is_spelled_by_pieces_and_comes_back(tokenizer):
    word_pieces = pieces(tokenizer, "Straßenbäckerhäuser")  # not in CORPUS, its letters are
    assert len(word_pieces) > 1
    assert word_pieces[0].startswith(WORD_START)
    assert all(piece.startswith("##") for piece in word_pieces[1:])
    text = "die Straßenbäckerhäuser, l'homme"
    assert decode(tokenizer.detokenize(tokenizer.tokenize([text]))) == [text]


def test_a_word_longer_than_100_bytes_is_not_unknown(tokenizer):
    text = "Straße" * 30  # 210 bytes of UTF-8, one word
    ids = tokenizer.tokenize([text])
    assert tokenizer.unk_id not in ids.flat_values.numpy()
    assert decode(tokenizer.detokenize(ids)) == [text]


def test_unknown_characters_make_their_word_unk(tokenizer):
    assert pieces(tokenizer, "die Wüste") == [*pieces(tokenizer, "die"), "[UNK]"]  # no "W"


def test_detokenize_drops_special_tokens_and_copes_with_a_leading_continuation(tokenizer):
    ids = tokenizer.tokenize(["l'homme !", "T-Shirt"]).to_tensor()  # padded with 0
    framed = tf.concat([tf.fill([2, 1], tokenizer.start_id), ids,
                        tf.constant([[4, 5, 6, 1]] * 2), tf.fill([2, 1], tokenizer.end_id)],
                       axis=1)
    assert decode(tokenizer.detokenize(framed)) == ["l'homme !", "T-Shirt"]
    continuation = tokenizer.vocabulary.index("##e")  # a model's output may start with it
    the = tokenizer.tokenize(["the"]).to_list()[0]
    assert decode(tokenizer.detokenize([[continuation, *the]])) == ["e the"]


# ----------------------------------------------------------------------------- learning
def test_learned_vocabulary_keeps_every_character_and_the_marker(tokenizer):
    vocabulary = tokenizer.vocabulary
    assert vocabulary[:7] == list(special_tokens.SPECIAL_TOKENS)
    assert len(vocabulary) <= 400
    characters = set("".join(decode(normalize_text(CORPUS)))) - {" "}
    assert characters <= set(vocabulary)
    assert {"##" + char for char in characters} <= set(vocabulary)
    assert WORD_START in vocabulary and "##" + WORD_START not in vocabulary
    assert {"▁the", "▁T", "-", "Shirt"} <= set(vocabulary)  # word starts and inner words
    assert all(WORD_START not in token[1:] for token in vocabulary)


def test_save_and_load_give_identical_ids_and_strings(tmp_path):
    tokenizer = learn_tokenizer("subword", CORPUS[:14], vocab_size=300, lower_case=True)
    folder = tokenizer.save(tmp_path / "run" / "tokenizer")
    assert '"kind": "subword"' in (folder / "tokenizer.json").read_text(encoding="utf-8")
    loaded = load_tokenizer(folder)
    assert type(loaded) is SubwordTokenizer
    assert loaded.vocabulary == tokenizer.vocabulary
    assert loaded.options == tokenizer.options == {
        "normalization": "NFKC", "lower_case": True, "strip_accents": False}
    ids = tokenizer.tokenize(ROUND_TRIP_TEXTS)
    assert loaded.tokenize(ROUND_TRIP_TEXTS).to_list() == ids.to_list()
    assert decode(loaded.detokenize(ids)) == decode(tokenizer.detokenize(ids)) == decode(
        normalize_text(ROUND_TRIP_TEXTS, lower_case=True))


# ------------------------------------------------------------------ tf.data, tf.function
def test_works_inside_tf_data(tokenizer, eager_and_mapped):
    texts = tf.constant(ROUND_TRIP_TEXTS)
    ids = eager_and_mapped(lambda t: tokenizer.tokenize(t).to_tensor(), texts)
    assert ids.tolist() == tokenizer.tokenize(texts).to_tensor().numpy().tolist()
    round_trip = eager_and_mapped(lambda t: tokenizer.detokenize(tokenizer.tokenize(t)), texts)
    assert [s.decode() for s in round_trip] == decode(normalize_text(texts))
    per_example = tf.data.Dataset.from_tensor_slices(texts).map(
        lambda text: tokenizer.tokenize(text[None])[0])
    assert [row.numpy().tolist() for row in per_example] == tokenizer.tokenize(texts).to_list()


def test_works_inside_tf_function(tokenizer):
    assert round_trip_in_tf_function(tokenizer, ROUND_TRIP_TEXTS) == decode(
        normalize_text(ROUND_TRIP_TEXTS))
