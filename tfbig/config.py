"""Run configuration: the whole config of a run, and how overrides resolve into it.

The fields and their checks are in ``tfbig.config_fields``. A config is resolved in one
order, later wins:

    field defaults → the task's defaults → ``model.preset`` sizes → ``--config FILE`` →
    train flags (``--epochs`` …) → ``--set key.path=value``

This module knows no task: ``tfbig.tasks.resolve_config`` passes the task's defaults in
and checks what only the task can (its models, the metrics ``train.monitor`` may name).

A config remembers which keys were set explicitly (``RunConfig.explicit``). Once the data
is read, a task may fill the other keys from it (``with_data_defaults``: the tokenizer,
vocabulary and model size of the translate task), so a choice made by the user always wins.

This module imports no TensorFlow (the CLIs' ``--help`` must stay fast).
"""

import dataclasses
import json
import os
import difflib
import types
import typing

from tfbig.config_fields import (  # noqa: F401  (PRESETS and the choices, for callers)
    DECODERS, LOWER_IS_BETTER, MODELS, PRECISIONS, PRESETS, SCHEDULES, STRATEGIES, TOKENIZERS,
    DataConfig, ModelConfig, TrainConfig)
from tfbig.errors import TfbigError


@dataclasses.dataclass(frozen=True)
class RunConfig:
    task: str = "translate"  # one of tfbig.tasks.AVAILABLE (checked there)
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

    @property
    def model_name(self):
        """The model's name; ``tfbig.tasks`` fills ``model.name`` with the task's default."""
        return self.model.name

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


def resolve(overrides, source="config", defaults=None):
    """Build a :class:`RunConfig` from flat ``{"section.field": value}`` overrides, in order.

    ``defaults`` (``{"section.field": value}``, the task's: see ``tfbig.tasks``) fill the
    keys that neither the overrides nor a ``model.preset`` set; like the field defaults,
    they do not count as explicit.
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
    if not values["model"].get("name", True):
        del values["model"]["name"]  # "" asks for the task's default model
    for key, value in (defaults or {}).items():
        section, _, field = key.partition(".")
        values[section].setdefault(field, value)
    return RunConfig(
        task=top.get("task", "translate"),
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

