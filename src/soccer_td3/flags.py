"""The flags every command shares: settings generated from TrainConfig, --set, --config,
--preset, --env and --save-dir, each multi-word flag in both spellings.

One module, so `train`, `compare` and `tune` accept the same settings (`--learning-starts 100`
works under each, as rl-zoo3 and SB3 users expect) and report a bad value with the same line.
The help text of each setting is its TrainConfig field's description.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

from soccer_td3.config import (
    DEFAULT_TASK,
    PARTS,
    PRESETS,
    RETIRED_SETTINGS,
    SETTINGS,
    TrainConfig,
    build_config,
    parse_set_overrides,
)
from soccer_td3.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as a UserError (one line) instead of usage + exit."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message}; see `{self.prog} --help`")


# The setting flags in `--help`, grouped as rl-zoo3 groups its own, one group per part of
# TrainConfig: what the agent plays, how TD3 learns, its networks, how fast it runs, and the run
# around it. A new field lands in its part's group, so it cannot vanish from the help.
GROUP_TITLES: dict[str, str] = {
    "environment": "task, control and reward",
    "td3": "TD3",
    "networks": "networks",
    "speed": "speed",
    "run": "run: budget, evaluation, checkpoints, logs",
}


def spellings(name: str) -> list[str]:
    """`--save-dir` as most CLIs write it and `--save_dir` as the seed's commands do."""
    hyphen, underscore = "--" + name.replace("_", "-"), "--" + name.replace("-", "_")
    return [hyphen] if hyphen == underscore else [hyphen, underscore]


def _field_help(name: str) -> str:
    field = SETTINGS[name]
    default = field.get_default(call_default_factory=True)
    if isinstance(default, list):
        default = ",".join(map(str, default))
    if name == "shaping":
        default = "none"
    return f"{field.description} (default: {default})"


def add_save_dir(parser: argparse.ArgumentParser, default: Path, help_text: str, *aliases: str):
    parser.add_argument(
        *spellings("save_dir"),
        *aliases,
        dest="save_dir",
        type=Path,
        default=default,
        metavar="DIR",
        help=f"{help_text} (default: {default}).",
    )


def add_settings(
    parser: argparse.ArgumentParser,
    *,
    preset: bool = True,
    skip: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
) -> None:
    """--preset, --config, --set, --net and one flag per TrainConfig field (minus `skip`).

    Flags left out of the command line are absent from the namespace, so the order preset <
    config file < --set < flags holds. `defaults` only changes the help text: the command applies
    its own defaults (compare: 100000 timesteps) in `settings_overrides`' caller."""
    if preset:
        parser.add_argument(
            "--preset",
            default="balanced",
            choices=list(PRESETS),
            help="Named recipe to start from (default: balanced, the seed's Task 3).",
        )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML file of settings (e.g. a run's config.yaml).",
    )
    parser.add_argument(
        "--set",
        dest="set_pairs",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override one setting, e.g. --set learning_rate=5e-4 (repeatable).",
    )
    parser.add_argument(
        "--net",
        metavar="SIZES",
        help="Hidden layer sizes of actor and critics at once, e.g. 512,256,128,64 "
        "(--actor-net / --critic-net, when given, win for their network).",
    )
    shown = defaults or {}
    for part, settings in PARTS.items():
        group = parser.add_argument_group(GROUP_TITLES[part])
        for name in settings.model_fields:
            if name not in skip:
                _add_setting(group, name, shown)
    for name in RETIRED_SETTINGS:  # old command lines still run; --help no longer shows them
        parser.add_argument(
            *spellings(name), dest=name, default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )


def _add_setting(group: argparse._ArgumentGroup, name: str, shown: dict[str, Any]) -> None:
    """The flag of one TrainConfig field; absent from the namespace unless given."""
    help_text = _field_help(name)
    if name in shown:
        help_text = f"{SETTINGS[name].description} (default: {shown[name]})"
    if name == "env":
        group.add_argument(
            "--env",
            dest="env",
            action="append",
            default=argparse.SUPPRESS,
            metavar="TASK_ID",
            help=f"{help_text}; repeatable: one agent for several tasks.",
        )
    elif SETTINGS[name].annotation is bool:
        group.add_argument(
            *spellings(name),
            dest=name,
            action=argparse.BooleanOptionalAction,
            default=argparse.SUPPRESS,
            help=help_text,
        )
    else:
        group.add_argument(
            *spellings(name),
            dest=name,
            default=argparse.SUPPRESS,
            metavar=name.upper(),
            help=help_text,
        )


def settings_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """--set pairs, then --net, then the setting flags given: what overrides the base config."""
    overrides: dict[str, Any] = parse_set_overrides(args.set_pairs)
    if args.net is not None:
        overrides.update(actor_net=args.net, critic_net=args.net)
    overrides.update(
        {
            name: getattr(args, name)
            for name in [*SETTINGS, *RETIRED_SETTINGS]
            if hasattr(args, name)
        }
    )
    second = getattr(args, "second_env", None)
    if second:
        overrides["env"] = [*overrides.get("env", [DEFAULT_TASK]), *second]
    return overrides


def config_from_args(args: argparse.Namespace, **command_defaults: Any) -> TrainConfig:
    """The validated TrainConfig of a command line: preset < `command_defaults` < --config <
    --set < flags."""
    return build_config(
        getattr(args, "preset", "balanced"), args.config, settings_overrides(args), command_defaults
    )
