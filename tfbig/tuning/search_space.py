"""A config's ``search_space``: what ``tfbig.tune`` varies, checked before anything trains
and turned into keras-tuner hyperparameters.

    search_space:
      model.d_model: [64, 128]                               # a grid: these values
      learning_rate: {min: 1.0e-4, max: 1.0e-2, sampling: log}  # a train flag's name
      model.num_layers: {min: 1, max: 3, step: 1}            # a range with a step

A key is anything ``--set`` accepts (``model.d_model``) or a train flag's name
(``learning_rate``, ``batch_size``; ``learning-rate`` works too); it is stored under its
config key. A range over an integer field gives integers. With ``sampling: log`` a ``step``
multiplies (``{min: 16, max: 256, step: 2, sampling: log}`` is 16, 32, …, 256).

No TensorFlow here: :func:`hyperparameters` imports keras-tuner when it is called.
"""

import dataclasses
import difflib
import typing

from tfbig import config as config_lib
from tfbig.errors import TfbigError
from tfbig.tasks import resolve_config

RANGE_KEYS = ("min", "max", "step", "sampling")
SAMPLINGS = ("linear", "log", "reverse_log")
# Keys a search cannot vary: the task decides the data, the model family and the monitor.
FIXED = ("task",)


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One tuned config key: a grid of ``values``, or a numeric range."""

    key: str  # the config key, e.g. "train.learning_rate"
    kind: str  # "choice" (a grid), "int" or "float" (a range)
    values: tuple = ()  # choice: the values, in the order given
    min: float = 0  # int/float: the range, both ends included
    max: float = 0
    step: float | None = None  # int/float: the spacing (a factor with log sampling)
    sampling: str = "linear"  # int/float: linear | log | reverse_log

    @property
    def finite(self):
        """Whether a grid search visits every value (a list, or a range with a step)."""
        return self.kind == "choice" or self.step is not None


def _field_types():
    hints = {section: typing.get_type_hints(cls) for section, cls in config_lib.SECTIONS.items()}
    return {f"{section}.{field}": annotation
            for section, fields in hints.items() for field, annotation in fields.items()}


def config_key(name):
    """The config key of a search-space key: ``learning_rate`` → ``train.learning_rate``."""
    fields = _field_types()
    if name in fields:
        return name
    flag = str(name).replace("-", "_")
    if flag in config_lib.FLAG_FIELDS and flag not in FIXED:
        return config_lib.FLAG_FIELDS[flag]
    if name in FIXED:
        raise TfbigError(f"search_space key {name!r}: the task cannot be tuned (it fixes the "
                         f"data, the models and the monitored metric); run one search per task")
    names = list(fields) + [flag for flag in config_lib.FLAG_FIELDS if flag not in FIXED]
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise TfbigError(f"search_space: unknown key {name!r}{hint}; expected a config key that "
                     f"--set accepts (e.g. model.d_model, train.warmup_steps) or a train flag's "
                     f"name ({', '.join(f for f in config_lib.FLAG_FIELDS if f not in FIXED)})")


def _value(key, value, annotation):
    """``value`` checked against the field's type (a YAML ``1e-3`` string is a number)."""
    if isinstance(value, str) and annotation in (int, float):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            value = int(number) if annotation is int and number.is_integer() else number
    if isinstance(value, (dict, list)) or value is None:
        raise TfbigError(f"search_space {key}: value {value!r} is not a number, string or "
                         f"true/false; a grid lists plain values")
    try:
        return config_lib._coerce(key, value, annotation)
    except TfbigError as error:
        raise TfbigError(f"search_space {key}: {error}") from None


def _range(key, spec, annotation):
    unknown = sorted(set(spec) - set(RANGE_KEYS))
    if unknown:
        raise TfbigError(f"search_space {key}: unknown range key {unknown[0]!r}; a range is "
                         f"{{min, max}} with an optional step and sampling "
                         f"({', '.join(SAMPLINGS)})")
    if annotation not in (int, float):
        raise TfbigError(f"search_space {key}: a range needs a numeric field, and {key} is "
                         f"not a number; list its values instead, e.g. [a, b]")
    for end in ("min", "max"):
        if end not in spec:
            raise TfbigError(f"search_space {key}: range has no {end!r}; expected "
                             f"{{min: A, max: B}} with A < B")
    low, high = (_value(key, spec[end], annotation) for end in ("min", "max"))
    step = None if spec.get("step") is None else _value(key, spec["step"], annotation)
    sampling = spec.get("sampling", "linear")
    if sampling not in SAMPLINGS:
        raise TfbigError(f"search_space {key}: sampling={sampling!r}; expected one of "
                         f"{', '.join(SAMPLINGS)}")
    if not low < high:
        raise TfbigError(f"search_space {key}: range min={low} max={high}; expected min < max")
    if sampling != "linear" and low <= 0:
        raise TfbigError(f"search_space {key}: {sampling} sampling needs min > 0, got "
                         f"min={low}")
    if step is not None and step <= (1 if sampling != "linear" else 0):
        expected = "a factor > 1 with log sampling" if sampling != "linear" else "> 0"
        raise TfbigError(f"search_space {key}: step={step}; expected {expected}")
    kind = "int" if annotation is int else "float"
    return Dimension(key, kind, min=low, max=high, step=step, sampling=sampling)


def _choice(key, values, annotation):
    if not values:
        raise TfbigError(f"search_space {key}: the list of values is empty")
    checked = tuple(_value(key, value, annotation) for value in values)
    if len(set(checked)) < len(checked):
        raise TfbigError(f"search_space {key}: the values {list(values)} repeat one")
    return Dimension(key, "choice", values=checked)


def parse_search_space(search_space, overrides=None):
    """The :class:`Dimension` of each key of ``search_space``, in the order given.

    Args:
        search_space: the config's ``search_space`` mapping.
        overrides: the flat overrides of the run the search starts from; when given, each
            value (and each range's ends) must make a valid config on its own, unless the
            reason names another tuned key (``model.num_heads`` may fit another ``d_model``).

    Raises:
        TfbigError: an unknown key (with the closest valid one), a value of the wrong type,
            an empty list, a bad range, or a value no config accepts.
    """
    if not isinstance(search_space, dict):
        raise TfbigError(f"search_space: expected a mapping of config keys to lists of "
                         f"values or {{min, max}} ranges, got {search_space!r:.60}")
    fields = _field_types()
    dimensions = []
    for name, spec in search_space.items():
        key = config_key(name)
        if any(d.key == key for d in dimensions):
            raise TfbigError(f"search_space: {name!r} and another key both name {key}; "
                             f"keep one")
        if isinstance(spec, dict):
            dimensions.append(_range(key, spec, fields[key]))
        elif isinstance(spec, (list, tuple)):
            dimensions.append(_choice(key, spec, fields[key]))
        else:
            raise TfbigError(f"search_space {key}: got {spec!r}; expected a list of values "
                             f"(a grid), {{min, max, step}} or {{min, max, sampling: log}}")
    if overrides is not None:
        _check_alone(dimensions, overrides)
    return dimensions


def _check_alone(dimensions, overrides):
    tuned = [d.key for d in dimensions]
    for dimension in dimensions:
        probes = dimension.values if dimension.kind == "choice" else (dimension.min,
                                                                      dimension.max)
        for value in probes:
            try:
                resolve_config({**overrides, dimension.key: value})
            except TfbigError as error:
                others = [key for key in tuned if key != dimension.key and key in str(error)]
                if not others:
                    raise TfbigError(f"search_space {dimension.key}: the value {value!r} "
                                     f"gives no valid config ({error})") from None


def hyperparameters(dimensions):
    """A ``keras_tuner.HyperParameters`` holding one hyperparameter per dimension, named
    by its config key. ``True``/``False`` grids become 1/0 (keras-tuner stores booleans
    of a Choice as integers); :func:`trial_values` turns them back."""
    import keras_tuner

    fields = _field_types()
    hp = keras_tuner.HyperParameters()
    for d in dimensions:
        if d.kind == "choice":
            # keras-tuner wants one type per Choice: a field of two types (train.jit_compile
            # is true, false or "auto") is tuned as strings.
            values = list(d.values)
            if not isinstance(fields[d.key], type):
                values = [_encode(value) for value in values]
            hp.Choice(d.key, values)
        elif d.kind == "int":
            hp.Int(d.key, d.min, d.max, step=d.step, sampling=d.sampling)
        else:
            hp.Float(d.key, d.min, d.max, step=d.step, sampling=d.sampling)
    return hp


def _encode(value):
    return "true" if value is True else "false" if value is False else str(value)


def trial_values(dimensions, values):
    """``{config key: value}`` of a trial from keras-tuner's values, in the fields' types."""
    fields = _field_types()
    decoded = {}
    for d in dimensions:
        value = values[d.key]
        annotation = fields[d.key]
        if annotation is bool:
            value = bool(value)
        elif annotation is float:
            value = float(f"{float(value):.10g}")  # 0.30000000000000004 (a float step) → 0.3
        elif annotation is int:
            value = int(value)
        elif isinstance(value, str) and value in ("true", "false"):
            value = value == "true"
        decoded[d.key] = value
    return decoded
