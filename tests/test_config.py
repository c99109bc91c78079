"""Config resolution and validation: every user mistake gets a message naming the field."""

import json

import pytest

from tfbig import config as config_lib
from tfbig.errors import TfbigError
from tfbig.tasks import config_from_flags, resolve_config


def test_defaults_resolve_to_the_translate_transformer():
    config = resolve_config({})
    assert config.task == "translate"
    assert config.model_name == "transformer"
    assert config.train.batch_size == 64


def test_preset_fills_sizes_but_explicit_fields_win():
    config = resolve_config({"model.preset": "base", "model.num_layers": 3})
    assert (config.model.d_model, config.model.num_heads, config.model.num_layers) == (512, 8, 3)


@pytest.mark.parametrize("overrides, message", [
    ({"model.d_model": 100, "model.num_heads": 8},
     r"model\.d_model=100 is not divisible by model\.num_heads=8.*try num_heads=10"),
    ({"train.batch_size": 0}, r"train\.batch_size=0: expected a positive integer"),
    ({"train.epochs": "ten"}, r"train\.epochs='ten': expected an integer"),
    ({"train.learning_rate": 0, "train.schedule": "cosine"}, r"train\.learning_rate=0"),
    ({"data.validation_split": 1.5}, r"data\.validation_split=1\.5: expected a fraction"),
    ({"data.tokenizer": "bpe"}, r"data\.tokenizer='bpe': expected one of auto, char, word, wordpiece"),
    ({"model.positional": "alibi"}, r"model\.positional='alibi': expected one of "
                                    r"sinusoidal, learned, rotary"),
    ({"train.precision": "float8"}, r"train\.precision='float8': expected one of auto, float32"),
    ({"task": "dance"}, r"task='dance': expected one of translate, classify"),
    ({"model.norm_first": 1}, r"model\.norm_first=1: expected true or false"),
    ({"train.schedule": "step"}, r"train\.schedule='step': expected one of transformer, "
                                 r"constant, linear, cosine, plateau"),
    ({"train.jit_compile": "yes"}, r"train\.jit_compile='yes': expected true, false or auto"),
    ({"train.cpu_replicas": 2}, r"train\.cpu_replicas=2: expected 0 unless "
                                r"train\.strategy=mirrored"),
    ({"train.cpu_replicas": -1, "train.strategy": "mirrored"},
     r"train\.cpu_replicas=-1: expected an integer >= 0"),
    ({"train.jit_compile": 1}, r"train\.jit_compile=1: expected true or false or a string"),
    ({"train.plateau_patience": 0}, r"train\.plateau_patience=0: expected a positive integer"),
    ({"train.plateau_factor": 1.0}, r"train\.plateau_factor=1\.0: expected a factor in "
                                    r"\(0, 1\)"),
    ({"train.layer_lr_decay": 0}, r"train\.layer_lr_decay=0\.0: expected a factor in "
                                  r"\(0, 1\] \(1\.0 = off\)"),
    ({"train.epoch_metrics_examples": -1}, r"train\.epoch_metrics_examples=-1: expected an "
                                           r"integer >= 0"),
    ({"train.monitor": "bleu"}, r"train\.monitor='bleu': expected a validation metric"),
    ({"train.monitor": "val_f1", "task": "classify"},
     r"train\.monitor='val_f1': expected one of val_loss, val_accuracy, val_macro_f1, "
     r"val_macro_precision, val_macro_recall for the classify task$"),
    ({"train.monitor": "val_bleu", "train.epoch_metrics_examples": 0},
     r"train\.monitor='val_bleu': expected one of val_loss, val_masked_accuracy for the "
     r"translate task \(it is computed only when train\.epoch_metrics_examples > 0\)"),
])
def test_bad_values_name_the_field_and_what_was_expected(overrides, message):
    with pytest.raises(TfbigError, match=message):
        resolve_config(overrides)


def test_rotary_needs_an_even_head_size():
    with pytest.raises(TfbigError, match=r"model\.positional='rotary' needs an even head size, "
                                         r"but model\.d_model=12 / model\.num_heads=4 = 3"):
        config_lib.ModelConfig(positional="rotary", d_model=12, num_heads=4)


@pytest.mark.parametrize("positional", ["sinusoidal", "learned", "rotary"])
def test_every_positional_is_accepted(positional):
    assert config_lib.ModelConfig(positional=positional).positional == positional


@pytest.mark.parametrize("overrides, message", [
    ({"task": "classify", "model.positional": "rotary"},
     r"model\.positional='rotary': the classify task's bert model does not read it; leave"),
    ({"task": "mlm", "model.positional": "learned"}, r"the mlm task's bert model does not read"),
    ({"task": "translate", "model.name": "rnn", "model.positional": "rotary"},
     r"translate task's rnn model does not read it; it applies to translate's transformer"),
])
def test_a_positional_the_model_ignores_is_refused(overrides, message):
    with pytest.raises(TfbigError, match=message):
        resolve_config(overrides)


@pytest.mark.parametrize("task", ["translate", "lm"])
def test_rotary_is_accepted_where_it_is_read(task):
    assert resolve_config({"task": task, "model.positional": "rotary"}).model.positional == "rotary"


def test_unknown_key_suggests_the_closest_and_lists_valid_keys():
    with pytest.raises(TfbigError, match=r"unknown config key 'model\.dmodel' \(did you mean "
                                         r"'model\.d_model'\?\); valid keys: task, data\.path"):
        resolve_config({"model.dmodel": 3})


@pytest.mark.parametrize("text, expected", [
    ("model.d_model=256", ("model.d_model", 256)),
    ("train.learning_rate=1e-4", ("train.learning_rate", 1e-4)),
    ("model.norm_first=true", ("model.norm_first", True)),
    ("data.path=my file.tsv", ("data.path", "my file.tsv")),
])
def test_set_values_are_typed(text, expected):
    assert config_lib.parse_set(text) == expected


def test_set_without_equals_is_an_error():
    with pytest.raises(TfbigError, match=r"--set 'model\.d_model': expected key\.path=value"):
        config_lib.parse_set("model.d_model")


def test_ints_are_accepted_for_float_fields():
    assert resolve_config({"train.learning_rate": 1}).train.learning_rate == 1.0


def test_order_file_then_flags_then_set(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: translate\nmodel:\n  d_model: 64\n  num_heads: 2\n"
                    "train:\n  epochs: 3\n  batch_size: 8\n")
    config = config_from_flags(str(path), {"epochs": 5}, ["train.batch_size=16"])
    assert (config.model.d_model, config.train.epochs, config.train.batch_size) == (64, 5, 16)


def test_json_config_and_round_trip(tmp_path):
    config = resolve_config({"model.d_model": 64, "model.num_heads": 2})
    path = tmp_path / "config.json"
    config.save(path)
    assert config_lib.from_dict(json.loads(path.read_text())) == config
    assert config_from_flags(str(path)) == config


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(TfbigError, match=r"absent\.yaml: no such config file"):
        config_lib.load_config_file(str(tmp_path / "absent.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  d_model: [1,\n")
    with pytest.raises(TfbigError, match=r"bad\.yaml:\d+: not valid YAML/JSON"):
        config_lib.load_config_file(str(bad))
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("modle:\n  d_model: 8\n")
    with pytest.raises(TfbigError, match=r"unknown\.yaml: unknown key 'modle'"):
        config_lib.load_config_file(str(unknown))


def test_differences_lists_changed_fields():
    a = resolve_config({})
    b = config_lib.replace(a, model={"d_model": 256, "num_heads": 8})
    assert config_lib.differences(a, b) == ["model.d_model: 128 → 256", "model.num_heads: 4 → 8"]


def test_monitor_choices_and_their_direction():
    config = resolve_config({"task": "classify", "train.monitor": "val_macro_f1"})
    assert config.train.monitor == "val_macro_f1"
    assert config_lib.monitor_mode("val_macro_f1") == "max"
    assert config_lib.monitor_mode("val_bleu") == "max"
    assert config_lib.monitor_mode("val_loss") == "min"
    assert config_lib.monitor_mode("val_perplexity") == "min"
    from tfbig.tasks import task_class

    assert "val_macro_f1" not in task_class("classify").monitorable(
        resolve_config({"task": "classify", "train.epoch_metrics_examples": 0}))
    assert task_class("mlm").monitorable(resolve_config({"task": "mlm"})) == (
        "val_loss", "val_masked_accuracy")


@pytest.mark.parametrize("value", [True, False, "auto"])
def test_jit_compile_is_true_false_or_auto(value):
    assert resolve_config({"train.jit_compile": value}).train.jit_compile == value


def test_auto_xla_is_off_on_a_cpu_only_machine():
    import tensorflow as tf

    from tfbig.training.distribute import use_xla

    assert resolve_config({}).train.jit_compile == "auto"
    strategy = tf.distribute.get_strategy()
    assert use_xla(True, strategy) and not use_xla(False, strategy)
    if tf.config.list_logical_devices("GPU"):
        pytest.skip("this machine has a GPU: auto turns XLA on there")
    assert use_xla("auto", strategy) is False


def test_task_defaults_fill_only_what_the_user_left_unset():
    vit = resolve_config({"task": "image"})  # vit is the image task's default model
    assert (vit.model.patch_size, vit.train.epochs, vit.train.batch_size) == (8, 60, 16)
    assert (vit.train.schedule, vit.train.learning_rate) == ("cosine", 1e-3)
    assert vit.data.augment == {"flip_rate": 0.5}
    cnn = resolve_config({"task": "image", "model.name": "cnn"})
    assert (cnn.train.epochs, cnn.train.batch_size, cnn.train.learning_rate) == (20, 32, 3e-3)
    mine = resolve_config({"task": "image", "train.epochs": 3, "data.augment": {},
                               "model.patch_size": 4})
    assert (mine.train.epochs, mine.data.augment, mine.model.patch_size) == (3, {}, 4)
    # Other tasks keep the field defaults.
    assert resolve_config({"task": "classify"}).train.schedule == "transformer"


@pytest.mark.parametrize("kind", ["auto", "char", "word", "wordpiece", "sentencepiece"])
def test_every_tokenizer_kind_is_a_config_choice(kind):
    from tfbig.data.tokenizers import TOKENIZER_KINDS

    assert resolve_config({"data.tokenizer": kind}).data.tokenizer == kind
    # The config offers exactly the kinds the tokenizers can learn, and "auto": none missing
    # (a new kind unreachable from the config) and none extra (a choice that would fail).
    assert set(config_lib.TOKENIZERS) == {"auto", *TOKENIZER_KINDS}
