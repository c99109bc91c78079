"""The translate task's defaults chosen from the data, and that a user's choice wins."""

import random

import pytest
from helpers import natural_pairs

from tfbig import config as config_lib
from tfbig.tasks import config_from_flags
from tfbig.tasks.translate_defaults import data_defaults, model_size


def symbolic_pairs(count, seed=0):
    rng = random.Random(seed)
    months = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"]
    pairs = []
    for _ in range(count):
        year, month, day = rng.randint(1900, 2100), rng.randint(1, 12), rng.randint(1, 28)
        pairs.append((f"{months[month - 1]} {day}, {year}", f"{year}-{month:02d}-{day:02d}"))
    return pairs


def chosen(pairs, batch_size=64):
    return {key: value for key, value, _ in data_defaults(pairs, batch_size=batch_size)}


def test_symbolic_data_gets_characters_greedy_decoding_and_fixed_batches():
    choices = chosen(symbolic_pairs(5000))
    assert choices["data.tokenizer"] == "char"
    assert choices["train.final_decode"] == "greedy"
    assert "train.batch_tokens" not in choices and "data.vocab_size" not in choices


def test_natural_language_gets_subwords_a_vocabulary_from_the_corpus_and_token_batches():
    pairs = natural_pairs(4000)
    choices = chosen(pairs)
    assert choices["data.tokenizer"] == "subword"
    assert choices["train.final_decode"] == "beam"
    assert 1000 <= choices["data.vocab_size"] <= 1500  # ≈ 3,000 distinct words / 3
    mean_tokens = sum(len(t.split()) + 1 for _, t in pairs) / len(pairs) * 1.2 + 2
    assert abs(choices["train.batch_tokens"] - 64 * mean_tokens) <= 128
    assert choices["train.batch_tokens"] % 256 == 0


def test_the_model_grows_with_the_training_tokens():
    assert chosen(natural_pairs(300))["model.preset"] == "tiny"  # ≈ 3k target tokens
    assert chosen(natural_pairs(4000))["model.preset"] == "small"  # ≈ 50k
    assert [model_size(n) for n in (10_000, 100_000, 1_000_000, 50_000_000)] == [
        "tiny", "small", "medium", "base"]


def test_a_value_the_user_set_is_kept_and_the_others_are_filled():
    config = config_from_flags(flags={"task": "translate"}, assignments=[
        "model.d_model=64", "data.vocab_size=2000"])
    choices = data_defaults(natural_pairs(4000), batch_size=64)
    filled, applied = config_lib.with_data_defaults(config, choices)
    assert filled.data.vocab_size == 2000 and filled.model.d_model == 64
    assert filled.data.tokenizer == "subword" and filled.model.preset == "small"
    assert filled.model.num_layers == config_lib.PRESETS["small"]["num_layers"]
    assert "data.vocab_size" not in {key for key, _, _ in applied}
    # A preset the user named is explicit, sizes included.
    config = config_from_flags(assignments=["model.preset=tiny"])
    filled, _ = config_lib.with_data_defaults(config, [("model.preset", "medium", "test")])
    assert filled.model.preset == "tiny" and filled.model.d_model == 64


def test_a_saved_config_is_all_explicit_and_a_python_config_counts_changed_fields():
    config = config_from_flags()
    filled, _ = config_lib.with_data_defaults(config, [("data.tokenizer", "subword", "t")])
    again = config_lib.from_dict(filled.to_dict())
    assert again == filled and "explicit" not in filled.to_dict()
    unchanged, applied = config_lib.with_data_defaults(again, [("data.tokenizer", "char", "t")])
    assert unchanged.data.tokenizer == "subword" and applied == []
    python_made = config_lib.RunConfig(data=config_lib.DataConfig(vocab_size=123))
    assert python_made.is_explicit("data.vocab_size")
    assert not python_made.is_explicit("data.tokenizer")


@pytest.mark.parametrize("minutes", [-1, "soon"])
def test_a_bad_time_budget_is_refused_with_the_field(minutes):
    with pytest.raises(Exception, match="train.time_budget"):
        config_from_flags(assignments=[f"train.time_budget={minutes}"])
