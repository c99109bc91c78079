"""Run configuration: a few frozen dataclasses, named model sizes, and overrides.

A config is resolved in one order, later wins:

    field defaults → task defaults → ``model.preset`` sizes → ``--config FILE`` →
    train flags (``--epochs`` …) → ``--set key.path=value``

A config remembers which keys were set explicitly (``RunConfig.explicit``). Once the data
is read, a task may fill the other keys from it (``with_data_defaults``: the tokenizer,
vocabulary and model size of the translate task), so a choice made by the user always wins.

Every field has a one-line comment; ``validate`` in each ``__post_init__`` rejects bad values
with a :class:`~tfbig.errors.TfbigError` naming the field, the value, and what is expected.
This module imports no TensorFlow (the CLIs' ``--help`` must stay fast).
"""

import dataclasses
import json
import os
import difflib
import types
import typing

from tfbig.errors import TfbigError

TASKS = ("translate", "classify", "lm", "mlm", "image")
MODELS = ("transformer", "bert", "gpt", "rnn", "cnn", "vit")
STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
TOKENIZERS = ("auto", "char", "word", "wordpiece", "sentencepiece", "subword")
SCHEDULES = ("transformer", "constant", "linear", "cosine", "plateau", "planned")
DECODERS = ("auto", "greedy", "beam")

# The validation metrics each task's Keras model logs (from its loss_and_metrics) and the
# ones tfbig.training.task_metrics adds at epoch end (when train.epoch_metrics_examples > 0):
# together, what train.monitor may name. tests/training/test_task_metrics.py keeps these in
# step with the tasks.
KERAS_METRICS = {"translate": ("val_loss", "val_masked_accuracy"),
                 "classify": ("val_loss", "val_accuracy"),
                 "image": ("val_loss", "val_accuracy"),
                 "lm": ("val_loss", "val_masked_accuracy"),
                 "mlm": ("val_loss", "val_masked_accuracy")}
EPOCH_METRICS = {"translate": ("val_bleu", "val_chrf", "val_exact_match"),
                 "classify": ("val_macro_f1", "val_macro_precision", "val_macro_recall"),
                 "image": ("val_macro_f1", "val_macro_precision", "val_macro_recall")}
# Monitored metrics that improve downwards; every other one (accuracy, F1, BLEU) upwards.
LOWER_IS_BETTER = ("loss", "cross_entropy", "perplexity")

# Named model sizes (nanoGPT-style table). A preset fills these fields; anything set
# explicitly in the config file, the flags or --set still wins.
PRESETS = {
    "tiny": dict(num_layers=1, d_model=64, num_heads=2, dff=128),
    "small": dict(num_layers=2, d_model=128, num_heads=4, dff=512),
    # 3 + 3 layers of width 256: the TensorFlow tutorial's translation Transformer
    "medium": dict(num_layers=3, d_model=256, num_heads=8, dff=512),
    "base": dict(num_layers=6, d_model=512, num_heads=8, dff=2048),  # the paper's base
    "benchmark": dict(num_layers=4, d_model=256, num_heads=8, dff=1024),
}

# The data each task trains on when no --data is given (files in tfbig/sample_data/, the
# package's copy of the repository's data/ folder).
SAMPLE_DATA = {
    "translate": "dates.tsv",
    "classify": "reviews.tsv",
    "lm": "corpus.txt",
    "mlm": "corpus.txt",
    "image": "shapes",
}
DEFAULT_MODEL = {"translate": "transformer", "classify": "bert", "lm": "gpt", "mlm": "bert",
                 "image": "vit"}


def _check(condition, field, value, expected):
    if not condition:
        raise TfbigError(f"config field {field}={value!r}: expected {expected}")


def _check_choice(field, value, choices):
    _check(value in choices, field, value, "one of " + ", ".join(choices))


@dataclasses.dataclass(frozen=True)
class DataConfig:
    path: str = ""  # training data (file or folder); "" = the task's shipped sample
    val_path: str = ""  # validation data; "" = a deterministic split of `path`
    validation_split: float = 0.1  # fraction held out for validation when val_path is ""
    test_split: float = 0.1  # fraction held out for the final test metrics
    skip_bad_lines: bool = False  # skip (and count) malformed lines instead of stopping
    # char | word | wordpiece | sentencepiece | subword | auto (translate: chosen from the
    # data, see tfbig.tasks.translate_defaults; other tasks: wordpiece)
    tokenizer: str = "auto"
    # Largest vocabulary learnt from the training split (per side for translate, where by
    # default it follows the corpus: see tfbig.tasks.translate_defaults)
    vocab_size: int = 8000
    lower_case: bool = False  # case-fold text (keeps accents unless strip_accents)
    strip_accents: bool = False  # remove combining accents after NFD
    max_source_length: int = 0  # source/input tokens kept; 0 = longest in the data
    max_target_length: int = 0  # target tokens kept incl. [START]/[END]; 0 = from data
    shuffle_buffer: int = 10000  # examples in the shuffle buffer
    # Training-time augmentation rates by name, e.g. {delete_rate: 0.1, mask_rate: 0.05}
    # (text: tfbig.data.augment_text.TextAugmentConfig; images: ImageAugmentConfig); {} = off
    augment: dict = dataclasses.field(default_factory=dict)
    image_size: int = 32  # image task: every image is resized to image_size × image_size

    def __post_init__(self):
        for name in ("validation_split", "test_split"):
            value = getattr(self, name)
            _check(0.0 <= value < 1.0, f"data.{name}", value, "a fraction in [0, 1)")
        _check(self.validation_split + self.test_split < 0.9, "data.validation_split",
               self.validation_split, "validation_split + test_split below 0.9")
        _check_choice("data.tokenizer", self.tokenizer, TOKENIZERS)
        _check(self.vocab_size >= 16, "data.vocab_size", self.vocab_size, "an integer >= 16")
        for name in ("max_source_length", "max_target_length"):
            value = getattr(self, name)
            _check(value == 0 or value >= 3, f"data.{name}", value, "0 (auto) or >= 3")
        _check(self.shuffle_buffer >= 1, "data.shuffle_buffer", self.shuffle_buffer, ">= 1")
        _check(self.image_size >= 4, "data.image_size", self.image_size, "an integer >= 4")
        _check(all(isinstance(value, (int, float)) for value in self.augment.values()),
               "data.augment", self.augment, "a mapping of augmentation names to rates")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str = ""  # transformer | bert | gpt | rnn | cnn | vit; "" = the task's default
    preset: str = ""  # named size (tiny, small, base, benchmark); "" = the fields below
    num_layers: int = 2  # encoder layers and decoder layers (each)
    d_model: int = 128  # model width
    num_heads: int = 4  # attention heads; must divide d_model
    dff: int = 512  # feed-forward inner size
    dropout_rate: float = 0.1  # dropout on embeddings, residuals and attention weights
    max_length: int = 512  # longest sequence the model accepts (position table)
    positional: str = "sinusoidal"  # sinusoidal (paper) | learned
    norm_first: bool = False  # pre-norm blocks instead of the paper's post-norm
    activation: str = "relu"  # feed-forward activation: relu (paper) | gelu
    tie_embeddings: bool = False  # logits from the target embedding matrix
    patch_size: int = 4  # ViT: side of the square image patches; must divide data.image_size

    def __post_init__(self):
        if self.name:
            _check_choice("model.name", self.name, MODELS)
        if self.preset:
            _check_choice("model.preset", self.preset, tuple(PRESETS))
        for name in ("num_layers", "d_model", "num_heads", "dff", "max_length", "patch_size"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, f"model.{name}", value,
                   "a positive integer")
        if self.d_model % self.num_heads:
            raise TfbigError(
                f"config field model.d_model={self.d_model} is not divisible by "
                f"model.num_heads={self.num_heads}: each head gets d_model / num_heads "
                f"features (try num_heads={_divisor_near(self.d_model, self.num_heads)})")
        _check(0.0 <= self.dropout_rate < 1.0, "model.dropout_rate", self.dropout_rate,
               "a rate in [0, 1)")
        _check_choice("model.positional", self.positional, ("sinusoidal", "learned"))
        _check_choice("model.activation", self.activation, ("relu", "gelu"))


def _divisor_near(number, target):
    return min((d for d in range(1, number + 1) if number % d == 0),
               key=lambda d: abs(d - target))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # passes over the training data (or steps_per_epoch steps each)
    steps_per_epoch: int = 0  # batches per epoch; 0 = the whole training split
    batch_size: int = 64  # global batch size (split across replicas)
    learning_rate: float = 1e-3  # peak learning rate; 0 = the paper's d_model^-0.5·warmup^-0.5
    # transformer (paper) | constant | linear | cosine | plateau (warm-up, then the rate is
    # multiplied by plateau_factor whenever train.monitor stalls for plateau_patience epochs)
    # | planned (warm-up, then linear decay to 0 where train.time_budget runs out; the
    # default of a time-budgeted run)
    schedule: str = "transformer"
    warmup_steps: int = 200  # linear warm-up steps (schedule=planned: 0 = 10% of the plan)
    plateau_patience: int = 2  # schedule=plateau: epochs without improvement before a cut
    plateau_factor: float = 0.5  # schedule=plateau: the rate is multiplied by this at a cut
    # Fine-tuning: block k below the head learns at learning_rate · decay^k, the embeddings
    # at decay^(blocks + 1) (ULMFiT's discriminative rates); 1.0 = one rate for all
    layer_lr_decay: float = 1.0
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    beta_2: float = 0.98  # Adam β2 (the paper's 0.98)
    clipnorm: float = 1.0  # clip each gradient to this global norm; 0 = off
    label_smoothing: float = 0.1  # ε of label smoothing (paper: 0.1)
    early_stopping_patience: int = 0  # stop after N epochs without val improvement; 0 = off
    # What picks the best checkpoint, early stopping and plateau cuts: "" = the task's
    # (val_masked_accuracy, val_accuracy or val_loss); or val_loss, val_bleu, val_macro_f1, …
    monitor: str = ""
    # Validation examples greedy-decoded at each epoch end for val_bleu/val_chrf (translate);
    # classify/image score macro F1 on the whole validation split. 0 = no epoch-end metrics
    epoch_metrics_examples: int = 256
    seed: int = 0  # seeds Python, NumPy, TensorFlow and the data pipeline
    strategy: str = "auto"  # auto | default | mirrored | multiworker | tpu
    precision: str = "float32"  # float32 | mixed_float16 | mixed_bfloat16
    # XLA-compile the train step: true | false | auto (on with a GPU or TPU; off on CPU, where
    # XLA trained the reference Transformer ~15% slower than TensorFlow's own kernels)
    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1  # train steps per compiled call (fewer Python round trips)
    # Tokens (padding included) per training batch, batches grouped by length so they
    # hold little padding; 0 = batch_size examples per batch (translate only)
    batch_tokens: int = 0
    # Minutes of training: the run measures its step time, plans the steps that fit (the
    # learning-rate schedule ends there) and stops on time; 0 = no budget (train.epochs)
    time_budget: float = 0.0
    # Decoding for the final text-to-text metrics (per-epoch val_bleu is always greedy):
    # auto (beam for natural language, greedy for symbolic data) | greedy | beam
    final_decode: str = "auto"
    beam_size: int = 4  # beams of final_decode=beam (the paper: 4)
    length_penalty: float = 0.6  # GNMT's α of final_decode=beam (the paper: 0.6)

    def __post_init__(self):
        for name in ("epochs", "batch_size", "steps_per_execution"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, f"train.{name}", value,
                   "a positive integer")
        for name in ("steps_per_epoch", "warmup_steps", "early_stopping_patience",
                     "epoch_metrics_examples", "batch_tokens"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 0, f"train.{name}", value,
                   "an integer >= 0")
        _check_choice("train.schedule", self.schedule, SCHEDULES)
        _check(self.jit_compile in (True, False, "auto"), "train.jit_compile", self.jit_compile,
               "true, false or auto")
        _check(isinstance(self.plateau_patience, int) and self.plateau_patience >= 1,
               "train.plateau_patience", self.plateau_patience, "a positive integer (epochs)")
        _check(0 < self.plateau_factor < 1, "train.plateau_factor", self.plateau_factor,
               "a factor in (0, 1), e.g. 0.5 halves the rate")
        _check(0 < self.layer_lr_decay <= 1, "train.layer_lr_decay", self.layer_lr_decay,
               "a factor in (0, 1] (1.0 = off), e.g. 0.8")
        _check(self.monitor == "" or self.monitor.startswith("val_"), "train.monitor",
               self.monitor, "a validation metric such as val_loss (or \"\" for the task's)")
        _check(self.learning_rate > 0 or (self.learning_rate == 0 and
                                          self.schedule == "transformer"),
               "train.learning_rate", self.learning_rate,
               "a rate > 0 (0 = the paper's formula, only with train.schedule=transformer)")
        _check(self.weight_decay >= 0, "train.weight_decay", self.weight_decay, ">= 0")
        _check(0 < self.beta_2 < 1, "train.beta_2", self.beta_2, "in (0, 1)")
        _check(self.clipnorm >= 0, "train.clipnorm", self.clipnorm, ">= 0")
        _check(0 <= self.label_smoothing < 1, "train.label_smoothing", self.label_smoothing,
               "in [0, 1)")
        _check_choice("train.strategy", self.strategy, STRATEGIES)
        _check_choice("train.precision", self.precision, PRECISIONS)
        _check(self.time_budget >= 0, "train.time_budget", self.time_budget,
               "minutes >= 0 (0 = no budget)")
        _check(self.schedule != "planned" or self.time_budget > 0, "train.schedule",
               self.schedule, "a schedule other than planned when train.time_budget is 0 "
               "(planned decays to 0 where the time budget ends)")
        _check_choice("train.final_decode", self.final_decode, DECODERS)
        _check(isinstance(self.beam_size, int) and self.beam_size >= 1, "train.beam_size",
               self.beam_size, "a positive integer")
        _check(self.length_penalty >= 0, "train.length_penalty", self.length_penalty, ">= 0")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    task: str = "translate"  # translate | classify | lm | mlm | image
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    search_space: dict = dataclasses.field(default_factory=dict)  # for tfbig.tune
    # Fine-tuning: where the weights came from ({source, path, method, lora_rank}); {} = none
    pretrained: dict = dataclasses.field(default_factory=dict)
    # The "section.field" keys the user set (file, flags, --set, a preset); the others may
    # be filled from the data (with_data_defaults). None = unknown (a config built in
    # Python): then every field that differs from its default counts as set.
    explicit: frozenset | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self):
        _check_choice("task", self.task, TASKS)
        monitor = self.train.monitor
        if monitor and monitor not in self.monitorable:
            hint = (" (it is computed only when train.epoch_metrics_examples > 0)"
                    if monitor in EPOCH_METRICS.get(self.task, ()) else "")
            raise TfbigError(f"config field train.monitor={monitor!r}: expected one of "
                             f"{', '.join(self.monitorable)} for the {self.task} task{hint}")

    @property
    def model_name(self):
        return self.model.name or DEFAULT_MODEL[self.task]

    @property
    def monitorable(self):
        """The validation metrics this run logs each epoch (what ``train.monitor`` may be)."""
        extra = EPOCH_METRICS.get(self.task, ()) if self.train.epoch_metrics_examples else ()
        return KERAS_METRICS[self.task] + extra

    def to_dict(self):
        mapping = dataclasses.asdict(self)
        del mapping["explicit"]  # how the values were chosen, not a value
        return mapping

    def is_explicit(self, key):
        """Whether ``"section.field"`` was set by the user rather than left to a default."""
        if self.explicit is not None:
            return key in self.explicit
        section, _, field = key.partition(".")
        return getattr(getattr(self, section), field) != getattr(SECTIONS[section](), field)

    def save(self, path):
        """Write the resolved config as JSON (atomically: never a half-written file)."""
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)


def monitor_mode(name):
    """``"min"`` for a loss-like metric (``val_loss``, ``val_perplexity``), else ``"max"``."""
    return "min" if any(name.endswith(suffix) for suffix in LOWER_IS_BETTER) else "max"


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
# Task defaults: where a task's usual budget differs from the field defaults (which suit the
# translation Transformer). Keyed by (task, model name); "" = any model of the task. A
# preset, a config file, flags and --set all win over these. Image runs are short (~100
# steps an epoch at most on the samples), so they warm up briefly and decay by cosine; the
# ViT sees 32-pixel images as 4 × 4 patches of 8 (patches of 4 took 2.5× as long for no
# gain). Measured on data/shapes: CNN 0.99, ViT 0.85 test accuracy (chance 0.33).
TASK_DEFAULTS = {
    ("image", ""): {"train.schedule": "cosine", "train.warmup_steps": 50,
                    "train.learning_rate": 3e-3, "train.batch_size": 32, "train.epochs": 20,
                    "data.augment": {"flip_rate": 0.5}},
    ("image", "vit"): {"model.patch_size": 8, "train.learning_rate": 1e-3,
                       "train.batch_size": 16, "train.epochs": 60},
}
TOP_LEVEL = ("task", "search_space", "pretrained")
# Train flags map onto these fields (e.g. --learning-rate → train.learning_rate).
FLAG_FIELDS = {
    "task": "task", "model": "model.name", "data": "data.path", "val_data": "data.val_path",
    "epochs": "train.epochs", "steps_per_epoch": "train.steps_per_epoch",
    "batch_size": "train.batch_size", "learning_rate": "train.learning_rate",
    "strategy": "train.strategy", "precision": "train.precision", "seed": "train.seed",
    "time_budget": "train.time_budget",
}


def valid_keys():
    """Every ``section.field`` key that ``--set`` accepts, plus ``task``."""
    keys = ["task"]
    for section, cls in SECTIONS.items():
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    return keys


def _coerce(key, value, annotation):
    """Check ``value`` against a field's type; ints are accepted where floats are."""
    expected = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is dict and isinstance(value, dict):
        return value
    if isinstance(annotation, types.UnionType):  # e.g. bool | str: one of the members
        if type(value) in typing.get_args(annotation):
            return value
        raise TfbigError(f"config field {key}={value!r}: expected "
                         f"{' or '.join(expected[t] for t in typing.get_args(annotation))}")
    if type(value) is not annotation:  # bool is an int subclass: compare exact types
        raise TfbigError(f"config field {key}={value!r}: expected "
                         f"{expected.get(annotation, annotation.__name__)}")
    return value


def _flatten(mapping, source):
    """``{"model": {"d_model": 8}}`` → ``{"model.d_model": 8}``, rejecting unknown keys."""
    flat = {}
    for key, value in mapping.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise TfbigError(f"{source}: section {key!r} must be a mapping of fields")
            for field, field_value in value.items():
                flat[f"{key}.{field}"] = field_value
        elif key in TOP_LEVEL:
            flat[key] = value
        else:
            raise TfbigError(f"{source}: unknown key {key!r}; valid top-level keys: task, "
                             + ", ".join(SECTIONS) + ", search_space, pretrained")
    return flat


def resolve(overrides, source="config"):
    """Build a :class:`RunConfig` from flat ``{"section.field": value}`` overrides, in order.

    The task's defaults and a ``model.preset`` are applied before the explicit values.
    """
    hints = {cls: typing.get_type_hints(cls) for cls in SECTIONS.values()}
    values = {section: {} for section in SECTIONS}
    top = {}
    for key, value in overrides.items():
        section, _, field = key.partition(".")
        if key in TOP_LEVEL:
            top[key] = _coerce(key, value, str if key == "task" else dict)
        elif section in SECTIONS and field in hints[SECTIONS[section]]:
            values[section][field] = _coerce(key, value, hints[SECTIONS[section]][field])
        else:
            close = difflib.get_close_matches(key, valid_keys(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TfbigError(f"{source}: unknown config key {key!r}{hint}; valid keys: "
                             + ", ".join(valid_keys()))
    explicit = {key for key in overrides if key not in TOP_LEVEL}
    preset = values["model"].get("preset", "")
    if preset in PRESETS:
        values["model"] = {**PRESETS[preset], **values["model"]}
        explicit |= {f"model.{field}" for field in PRESETS[preset]}
    task = top.get("task", "translate")
    model_name = values["model"].get("name") or DEFAULT_MODEL.get(task, "")
    for scope in ((task, model_name), (task, "")):  # the model-specific values first
        for key, value in TASK_DEFAULTS.get(scope, {}).items():
            section, _, field = key.partition(".")
            values[section].setdefault(field, value)
    return RunConfig(
        task=task,
        data=DataConfig(**values["data"]),
        model=ModelConfig(**values["model"]),
        train=TrainConfig(**values["train"]),
        search_space=top.get("search_space", {}),
        pretrained=top.get("pretrained", {}),
        explicit=frozenset(explicit),
    )


def with_data_defaults(config, choices):
    """Fill the keys the user left to a default with values derived from the data.

    Args:
        config: a resolved :class:`RunConfig`.
        choices: ``[(key, value, reason)]``, e.g. ``("model.preset", "medium", "≈380k
            target tokens")``; ``model.preset`` brings its sizes (each, unless set).

    Returns:
        ``(config, applied)``: the new config and the ``(key, value, reason)`` applied.
    """
    applied, changes = [], {}
    for key, value, reason in choices:
        if config.is_explicit(key):
            continue
        applied.append((key, value, reason))
        changes[key] = value
        if key == "model.preset":
            changes.update({f"model.{field}": size for field, size in PRESETS[value].items()
                            if not config.is_explicit(f"model.{field}")})
    sections = {}
    for key, value in changes.items():
        section, _, field = key.partition(".")
        sections.setdefault(section, {})[field] = value
    return replace(config, **sections), applied


def load_config_file(path):
    """Read a YAML or JSON config file into flat overrides."""
    if not os.path.isfile(path):
        raise TfbigError(f"{path}: no such config file (expected YAML or JSON)")
    import yaml  # JSON is a subset of YAML: one parser reads both

    with open(path, encoding="utf-8") as f:
        try:
            mapping = yaml.safe_load(f)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise TfbigError(f"{path}{where}: not valid YAML/JSON "
                             f"({getattr(error, 'problem', error)})") from None
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise TfbigError(f"{path}: expected a mapping of sections (task, data, model, train)")
    if "config" in mapping and isinstance(mapping["config"], dict) and "task" not in mapping:
        mapping = mapping["config"]  # a best_config.json from tfbig.tune wraps it
    return _flatten(mapping, path)


def parse_set(assignment):
    """``"model.d_model=256"`` → ``("model.d_model", 256)``; the value is read as YAML."""
    import yaml

    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise TfbigError(f"--set {assignment!r}: expected key.path=value, "
                         f"e.g. --set model.d_model=256")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):
        try:  # YAML 1.1 reads "1e-4" as a string; a user means the number
            value = float(value)
        except ValueError:
            pass
    return key.strip(), value


def overrides_from_flags(config_file=None, flags=None, assignments=()):
    """The flat overrides of a CLI run, in order: file, then flags that are set, then
    ``--set`` (``tfbig.tune`` adds each trial's values on top)."""
    overrides = load_config_file(config_file) if config_file else {}
    for flag, key in FLAG_FIELDS.items():
        value = (flags or {}).get(flag)
        if value is not None:
            overrides[key] = value
    for assignment in assignments:
        key, value = parse_set(assignment)
        overrides[key] = value
    return overrides


def config_from_flags(config_file=None, flags=None, assignments=()):
    """Resolve the config of a CLI run: file, then flags that are set, then ``--set``."""
    return resolve(overrides_from_flags(config_file, flags, assignments),
                   source="--set" if assignments else "config")


def from_dict(mapping, source="config.json"):
    """A :class:`RunConfig` from its ``to_dict()`` form (e.g. a run's config.json)."""
    return resolve(_flatten(mapping, source), source=source)


def differences(a, b):
    """``["model.d_model: 128 → 256", ...]``: the fields where two configs differ."""
    flat_a, flat_b = _flatten(a.to_dict(), "a"), _flatten(b.to_dict(), "b")
    return [f"{key}: {flat_a.get(key)!r} → {flat_b.get(key)!r}"
            for key in sorted(set(flat_a) | set(flat_b)) if flat_a.get(key) != flat_b.get(key)]


def replace(config, **sections):
    """A copy of ``config`` with fields of sections replaced: ``replace(c, train={...})``."""
    changes = {}
    for section, fields in sections.items():
        if isinstance(fields, dict):
            changes[section] = dataclasses.replace(getattr(config, section), **fields)
        else:
            changes[section] = fields
    return dataclasses.replace(config, **changes)

