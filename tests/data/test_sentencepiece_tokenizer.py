"""Tests of tfbig.data.sentencepiece_tokenizer: learning, exact round trip, ids, saving, tf.data.

The learned tokenizers are built once per module (fixtures below) to keep the file fast.
Learning needs the ``sentencepiece`` package; the file is skipped without it, except the test
of the error that tells the user to install it.
"""

import sys

import pytest
import tensorflow as tf

from tfbig import special_tokens
from tfbig.data.sentencepiece_tokenizer import MODEL_FILE, SentencePieceTokenizer
from tfbig.data.text_normalization import normalize_text
from tfbig.data.tokenizers import learn_tokenizer, load_tokenizer
from tfbig.errors import TfbigError

CORPUS = [
    "Hello, world! (It's 3.5 km.)",
    "The cat sat on the mat, happily!",
    "Für Elise is a piece (for piano).",
    "A café in Paris; the coffee is good?",
    "Crème brûlée à la française, s'il vous plaît.",
    "你好，世界。我们喜欢学习中文。",
    "東京は日本の首都です。",
    "The dog sat on the log: a good dog.",
] * 4

# In-vocabulary texts (every character is in CORPUS), not normalised yet: SentencePiece keeps
# spaces, so each must come back exactly as normalize_text(lower_case=True) makes it.
ROUND_TRIP_TEXTS = [
    "Hello, world! (It's 3.5 km.)",  # punctuation, apostrophe, digits
    "  Crème   BRÛLÉE à la française\t!",  # accents kept while lower-casing; spaces tidied
    "你好，世界。 東京は日本の首都です。",  # CJK
    "the dog (sat) ; on: the mat?!",  # punctuation spaced in odd ways
]


def decode(strings):
    """String tensor [batch] -> list of str."""
    return [s.decode("utf-8") for s in strings.numpy()]


def normalized(texts):
    return decode(normalize_text(texts, lower_case=True))


def needs_sentencepiece():
    pytest.importorskip("sentencepiece", reason="learning needs pip install sentencepiece")


@pytest.fixture(scope="module")
def unigram():
    needs_sentencepiece()
    return learn_tokenizer("sentencepiece", CORPUS, vocab_size=150, lower_case=True)


@pytest.fixture(scope="module")
def bpe():
    needs_sentencepiece()
    return learn_tokenizer("sentencepiece", CORPUS, vocab_size=150, lower_case=True,
                           model_type="bpe")


@pytest.fixture(scope="module", params=["unigram", "bpe"])
def tokenizer(request, unigram, bpe):
    """Both learning algorithms, for tests of the shared behaviour."""
    return {"unigram": unigram, "bpe": bpe}[request.param]


# --------------------------------------------------------------------------- vocabulary
def test_special_tokens_have_the_fixed_tfbig_ids(tokenizer):
    assert tokenizer.vocabulary[:7] == list(special_tokens.SPECIAL_TOKENS)
    ids = (tokenizer.pad_id, tokenizer.unk_id, tokenizer.start_id, tokenizer.end_id,
           tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id)
    assert ids == (0, 1, 2, 3, 4, 5, 6)
    assert tokenizer.kind == "sentencepiece"
    assert 7 < tokenizer.vocab_size <= 150
    assert tokenizer.vocab_size == len(tokenizer.vocabulary)


def test_the_model_itself_holds_the_special_ids(tokenizer):
    import sentencepiece
    processor = sentencepiece.SentencePieceProcessor(model_proto=tokenizer.model)
    assert (processor.pad_id(), processor.unk_id(), processor.bos_id(),
            processor.eos_id()) == (0, 1, 2, 3)
    assert [processor.id_to_piece(i) for i in range(7)] == list(special_tokens.SPECIAL_TOKENS)
    assert all(processor.is_control(i) for i in (0, 2, 3, 4, 5, 6))
    assert processor.is_unknown(1)


def test_a_small_corpus_gives_a_smaller_vocabulary_instead_of_failing():
    needs_sentencepiece()
    tokenizer = learn_tokenizer("sentencepiece", ["the cat sat on the mat"] * 3,
                                vocab_size=8000)
    assert 7 + 10 <= tokenizer.vocab_size < 100  # its 9 letters and "▁" at least
    ids = tokenizer.tokenize(["the mat sat"])
    assert decode(tokenizer.detokenize(ids)) == ["the mat sat"]


def test_vocab_size_too_small_for_the_alphabet_says_the_minimum():
    needs_sentencepiece()
    texts = ["abc abd"]  # a b c d and "▁": 5 characters + 7 special tokens
    with pytest.raises(TfbigError, match=r"vocab_size=10 is too small .* their 5 distinct "
                                         r"characters .* use vocab_size >= 12"):
        learn_tokenizer("sentencepiece", texts, vocab_size=10)
    assert learn_tokenizer("sentencepiece", texts, vocab_size=12).vocab_size == 12


# --------------------------------------------------------------------------- text <-> ids
def test_round_trip_is_exact_for_in_vocabulary_text(tokenizer):
    ids = tokenizer.tokenize(ROUND_TRIP_TEXTS)
    assert isinstance(ids, tf.RaggedTensor) and ids.dtype == tf.int32
    assert min(ids.flat_values.numpy()) >= special_tokens.NUM_SPECIAL_TOKENS  # no [UNK]
    assert decode(tokenizer.detokenize(ids)) == normalized(ROUND_TRIP_TEXTS)
    assert normalized(ROUND_TRIP_TEXTS)[1] == "crème brûlée à la française !"


def test_unknown_characters_become_unk(tokenizer):
    pieces = [tokenizer.vocabulary[i] for i in tokenizer.tokenize(["the cat €"]).to_list()[0]]
    assert pieces[-1] == "[UNK]"
    assert "[UNK]" not in pieces[:-1]
    assert decode(tokenizer.detokenize(tokenizer.tokenize(["the cat"]))) == ["the cat"]


def test_special_tokens_in_the_text_are_not_special(tokenizer):
    # [CLS] [SEP] [MASK] are control symbols: never matched in text, unlike user symbols.
    ids = tokenizer.tokenize(["[cls] [mask] [pad]", ""]).to_list()
    assert not set(ids[0]) & {0, 2, 3, 4, 5, 6}
    assert ids[1] == []


def test_detokenize_drops_padding_and_every_special_token(tokenizer):
    ids = tokenizer.tokenize(["the cat", "a good dog."]).to_tensor()  # padded with 0
    start = tf.fill([2, 1], tokenizer.start_id)
    end = tf.fill([2, 1], tokenizer.end_id)
    specials = tf.constant([[4, 5, 6, 1]] * 2)  # [CLS] [SEP] [MASK] [UNK]
    framed = tf.concat([start, ids, specials, end, tf.zeros([2, 3], tf.int32)], axis=1)
    assert decode(tokenizer.detokenize(framed)) == ["the cat", "a good dog."]
    too_big = tokenizer.vocab_size + 5
    assert decode(tokenizer.detokenize([ids[0].numpy().tolist() + [too_big], []])) == [
        "the cat", ""]


def test_works_per_example_and_batched_inside_tf_data(unigram):
    texts = tf.data.Dataset.from_tensor_slices(CORPUS[:8])
    per_example = texts.map(lambda text: unigram.tokenize(text[None])[0])
    batched = texts.batch(3).map(unigram.tokenize)
    eager = unigram.tokenize(CORPUS[:8]).to_list()
    assert [ids.numpy().tolist() for ids in per_example] == eager
    assert [row for batch in batched for row in batch.to_list()] == eager
    round_trip = texts.batch(3).map(lambda t: unigram.detokenize(unigram.tokenize(t)))
    assert [s for batch in round_trip for s in decode(batch)] == normalized(CORPUS[:8])


def test_works_inside_tf_function(unigram):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(texts):
        ids = unigram.tokenize(texts)
        return ids.to_tensor(), unigram.detokenize(ids.to_tensor())

    ids, texts = round_trip(tf.constant(ROUND_TRIP_TEXTS))
    assert ids.numpy().tolist() == unigram.tokenize(ROUND_TRIP_TEXTS).to_tensor().numpy(
    ).tolist()
    assert decode(texts) == normalized(ROUND_TRIP_TEXTS)


# -------------------------------------------------------------------------------- saving
def test_save_and_load_give_identical_ids_and_strings(tokenizer, tmp_path):
    folder = tokenizer.save(tmp_path / "run" / "tokenizer")
    assert sorted(path.name for path in folder.iterdir()) == [
        MODEL_FILE, "tokenizer.json", "vocab.txt"]
    assert (folder / MODEL_FILE).read_bytes() == tokenizer.model
    loaded = load_tokenizer(folder)
    assert type(loaded) is SentencePieceTokenizer
    assert loaded.vocabulary == tokenizer.vocabulary
    assert loaded.options == tokenizer.options == {
        "normalization": "NFKC", "lower_case": True, "strip_accents": False}
    ids = tokenizer.tokenize(CORPUS)
    assert loaded.tokenize(CORPUS).to_list() == ids.to_list()
    assert decode(loaded.detokenize(ids)) == decode(tokenizer.detokenize(ids))


def test_loading_needs_only_tensorflow_text(unigram, tmp_path, monkeypatch):
    folder = unigram.save(tmp_path / "tok")
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # import now fails
    assert load_tokenizer(folder).tokenize(["the cat"]).to_list() == unigram.tokenize(
        ["the cat"]).to_list()


def test_load_reports_a_missing_or_mismatched_model(unigram, bpe, tmp_path):
    folder = unigram.save(tmp_path / "tok")
    (folder / MODEL_FILE).write_bytes(bpe.model)
    with pytest.raises(TfbigError, match=r"tok: vocab\.txt does not match the pieces of "
                                         r"sentencepiece\.model"):
        load_tokenizer(folder)
    (folder / MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(TfbigError, match=r"tok: model is not a valid SentencePiece model"):
        load_tokenizer(folder)
    (folder / MODEL_FILE).unlink()
    with pytest.raises(TfbigError, match=r"tok: sentencepiece\.model is missing"):
        load_tokenizer(folder)


# ------------------------------------------------------------------------------- errors
def test_learning_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # import now fails
    with pytest.raises(TfbigError, match=r"needs the sentencepiece package, which is not "
                                         r"installed; run: pip install 'tfbig\[sentencepiece\]'"):
        learn_tokenizer("sentencepiece", CORPUS)


def test_learn_rejects_bad_options():
    needs_sentencepiece()
    with pytest.raises(TfbigError, match=r"unknown sentencepiece model_type 'word'; expected "
                                         r"one of unigram, bpe"):
        learn_tokenizer("sentencepiece", CORPUS, model_type="word")
    with pytest.raises(TfbigError, match=r"model_type is only for kind='sentencepiece', got "
                                         r"kind='char'"):
        learn_tokenizer("char", CORPUS, model_type="bpe")
    with pytest.raises(TfbigError, match=r"min_count is not supported by the sentencepiece "
                                         r"tokenizer, got 2"):
        learn_tokenizer("sentencepiece", CORPUS, min_count=2)
    with pytest.raises(TfbigError, match=r"texts are empty"):
        learn_tokenizer("sentencepiece", ["   ", ""])
    with pytest.raises(TfbigError, match=r"texts\[1\] is a int; expected str"):
        learn_tokenizer("sentencepiece", ["ok", 3])


def test_constructor_rejects_what_is_not_a_model():
    with pytest.raises(TfbigError, match=r"model must be a serialized SentencePiece model "
                                         r"\(bytes\), got str"):
        SentencePieceTokenizer("sentencepiece.model")
