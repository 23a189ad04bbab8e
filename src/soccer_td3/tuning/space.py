"""What the tuner searches, and the YAML file that narrows it.

The default ranges bracket the seed's hand-tuning guide with a margin on either side: its "if
learning is slow, try 5e-4" and "if the loss explodes, lr 1e-4 or batch 128" sit inside the
learning_rate and batch_size ranges, and the baseline column's tau 0.001 and target noise 0.1
sit at the low ends, so the study can find the guide's answers and can also disagree with them.

A search-space file maps parameter names to one of:
    learning_rate: {low: 1.0e-4, high: 1.0e-3, log: true}   a range (numeric parameters only;
                                                           a missing end keeps the default's)
    batch_size: [128, 256]                                 choices
    net: balanced                                          one value: not searched
Parameters the file does not name keep their default ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna
import yaml

from soccer_td3.config import PRESETS, SETTINGS, TrainConfig, build_config, parse_net
from soccer_td3.errors import UserError
from soccer_td3.files import read_text

Scalar = str | int | float | bool  # what Optuna stores as a categorical choice


def _net_presets() -> dict[str, list[int]]:
    default = SETTINGS["actor_net"].get_default(call_default_factory=True)
    return {name: list(values.get("actor_net", default)) for name, values in PRESETS.items()}


# `net` searches the presets' shapes by name (actor and critic alike), so the trials table and
# the importance plot read "large", not a list of layer sizes.
NET_PRESETS: dict[str, list[int]] = _net_presets()


@dataclass(frozen=True)
class Param:
    """One searched setting: a float or int range, a list of choices, or a fixed value."""

    kind: Literal["float", "int", "choice", "fixed"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Scalar, ...] = ()
    value: Scalar | None = None

    def suggest(self, trial: optuna.Trial, name: str) -> Scalar:
        """A fixed value is not suggested: it is not searched, so it is no Optuna parameter."""
        if self.kind == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        if self.kind == "choice":
            return trial.suggest_categorical(name, list(self.choices))
        return self.value

    def candidates(self) -> list[Scalar]:
        """The values worth validating: every config constraint is an interval, so a range is
        valid when both of its ends are."""
        if self.kind in ("float", "int"):
            return [self.low, self.high]
        if self.kind == "choice":
            return list(self.choices)
        return [self.value]

    def describe(self) -> str:
        if self.kind in ("float", "int"):
            return f"{self.low}..{self.high}" + (" (log)" if self.log else "")
        if self.kind == "choice":
            return "{" + ", ".join(map(str, self.choices)) + "}"
        return f"= {self.value}"


SearchSpace = dict[str, Param]

DEFAULT_SPACE: SearchSpace = {
    "learning_rate": Param("float", 1e-5, 1e-3, log=True),
    "batch_size": Param("choice", choices=(64, 128, 256, 512)),
    "tau": Param("float", 0.001, 0.02, log=True),
    "target_policy_noise": Param("float", 0.05, 0.4),
    "policy_delay": Param("int", 1, 4),
    "gamma": Param("choice", choices=(0.95, 0.98, 0.99, 0.995)),
    "net": Param("choice", choices=tuple(NET_PRESETS)),
    "shaping": Param("choice", choices=("none", "default")),
}


def sample(trial: optuna.Trial, space: SearchSpace) -> dict[str, Scalar]:
    return {name: param.suggest(trial, name) for name, param in space.items()}


def to_overrides(values: dict[str, Any]) -> dict[str, Any]:
    """Search-space values as TrainConfig settings: `net` sets both networks' hidden sizes."""
    overrides = dict(values)
    if "net" in overrides:
        net = overrides.pop("net")
        sizes = NET_PRESETS.get(net, net) if isinstance(net, str) else net
        overrides["actor_net"] = overrides["critic_net"] = sizes
    return overrides


def trial_config(base: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """The base settings with the trial's values on top, validated like any --config file."""
    return build_config("balanced", None, base.flat() | to_overrides(values))


def check_space(space: SearchSpace, base: TrainConfig, source: str = "search space") -> None:
    """Fail before the study starts, not in trial 17, when a value cannot make a valid config."""
    for name, param in space.items():
        for value in param.candidates():
            try:
                trial_config(base, {name: value})
            except UserError as exc:
                raise UserError(f"{source}: {name}={value!r} cannot be used: {exc}") from None


def load_search_space(path: Path) -> SearchSpace:
    """The default space with the file's parameters replaced."""
    where = f"search space file {path}"
    text = read_text(path, "search space file", "pass a YAML file to --search-space")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"{where} is not valid YAML ({exc.__class__.__name__}); fix it") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(
            f"{where} must map parameter names to a range, a list of choices or a value"
        )
    space = dict(DEFAULT_SPACE)
    for name, spec in data.items():
        if name not in DEFAULT_SPACE:
            raise UserError(
                f"{where}: unknown parameter {name!r}; known parameters: {', '.join(DEFAULT_SPACE)}"
            )
        space[name] = parse_spec(name, spec, where)
    return space


def parse_spec(name: str, spec: Any, where: str) -> Param:
    """One file entry: a mapping is a range, a list is choices, anything else a fixed value."""
    if isinstance(spec, list):
        if not spec:
            raise UserError(f"{where}: {name} has an empty list of choices; give at least one")
        choices = tuple(_scalar(name, choice, where) for choice in spec)
        if len(set(choices)) != len(choices):
            raise UserError(f"{where}: {name} repeats a choice in {spec}; list each once")
        return Param("choice", choices=choices)
    if isinstance(spec, dict):
        return _parse_range(name, spec, where)
    if spec is None:
        raise UserError(f"{where}: {name} is empty; give a range, a list of choices or a value")
    return Param("fixed", value=_scalar(name, spec, where))


def _numeric_kind(name: str) -> str | None:
    field = SETTINGS.get(name)
    annotation = field.annotation if field is not None else None
    if annotation not in (int, float):
        return None  # net, shaping: named choices, no order to search along
    return "int" if annotation is int else "float"


def _parse_range(name: str, spec: dict[str, Any], where: str) -> Param:
    kind = _numeric_kind(name)
    if kind is None:
        raise UserError(f"{where}: {name} takes a list of choices or one value, not a range")
    unknown = sorted(set(spec) - {"low", "high", "log"})
    if unknown:
        raise UserError(
            f"{where}: {name} has unknown key(s) {', '.join(map(str, unknown))}; "
            "a range is {low: ..., high: ..., log: true|false}"
        )
    default = DEFAULT_SPACE[name]
    low, high = spec.get("low", default.low), spec.get("high", default.high)
    log = spec.get("log", default.log)
    if low is None or high is None:
        raise UserError(f"{where}: {name} needs both low and high (its default is a choice list)")
    low, high = _number(name, low, where), _number(name, high, where)
    if not isinstance(log, bool):
        raise UserError(f"{where}: {name} log={log!r} must be true or false")
    if low > high:
        raise UserError(f"{where}: {name} has low={low} above high={high}; swap them")
    if log and low <= 0:
        raise UserError(f"{where}: {name} log=true needs low > 0 (got {low})")
    return Param(kind, low=low, high=high, log=log)


def _scalar(name: str, value: Any, where: str) -> Scalar:
    """Optuna stores categorical choices as str/int/float/bool: layer sizes become `256,256`."""
    if name == "net":
        return _net_choice(value, where)
    if _numeric_kind(name) is not None:
        return _number(name, value, where)
    if isinstance(value, str | int | float):  # bool is an int
        return value
    raise UserError(f"{where}: {name} value {value!r} must be a number, a string or true/false")


def _number(name: str, value: Any, where: str) -> int | float:
    """YAML reads `1e-4` (no dot) as a string: accept it as the number it plainly is."""
    kind = _numeric_kind(name)
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError
        number = float(value)
        if kind == "int":
            if not number.is_integer():
                raise ValueError
            return int(number)
        return number
    except ValueError:
        expected = "an integer" if kind == "int" else "a number"
        raise UserError(f"{where}: {name} value {value!r} must be {expected}") from None


def _net_choice(value: Any, where: str) -> Scalar:
    if isinstance(value, str) and value in NET_PRESETS:
        return value
    try:
        return ",".join(map(str, parse_net(value)))
    except ValueError:
        raise UserError(
            f"{where}: net {value!r} is neither a preset ({', '.join(NET_PRESETS)}) "
            "nor hidden layer sizes like 256,256"
        ) from None
