"""One front door: train, compare and tune take the same settings flags, the same way."""

import re
from pathlib import Path

from soccer_td3.cli import build_parser
from soccer_td3.config import PARTS, SETTINGS
from soccer_td3.flags import GROUP_TITLES, spellings
from tests.cli_helpers import assert_one_line_error, in_a_process, soccer_td3

SPACE = "net: '64,64'\nbatch_size: [32]\n"


def settings_flags(command: str) -> set[str]:
    """The TrainConfig flags a command's --help lists."""
    help_text = build_parser()._subparsers._group_actions[0].choices[command].format_help()
    listed = set(re.findall(r"--[a-z][a-z0-9_-]*", help_text))
    return {
        flag
        for name in SETTINGS
        for flag in (spellings(name) if name != "env" else ["--env"])
        if flag in listed
    }


def test_train_compare_and_tune_list_the_same_settings_flags():
    train, compare, tune = (settings_flags(c) for c in ("train", "compare", "tune"))
    assert len(train) > 2 * 30  # every field, both spellings
    assert compare == train
    assert tune == train  # tune's --timesteps is its per-trial budget
    tune_help = in_a_process("tune", "--help").stdout  # as a user reads it
    for flag in ("--preset", "--config", "--set", "--net", "--save-dir", "--save_dir"):
        assert flag in tune_help


def test_tune_with_train_flags_runs(tmp_path: Path):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    out = tmp_path / "tune"
    result = soccer_td3(
        "tune", "--trials", "1", "--timesteps", "200", "--learning-starts", "100",
        "--device", "cpu", "--eval-freq", "100", "--eval-episodes", "1", "--log-interval", "100",
        "--search-space", str(space), "--save_dir", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = (out / "trial_0" / "config.yaml").read_text()
    assert "learning_starts: 100" in config and "timesteps: 200" in config


def test_a_bad_setting_is_the_same_line_under_every_command(tmp_path: Path):
    lines = set()
    for command in ("train", "compare", "tune"):
        result = soccer_td3(command, "--learning-rate", "-1", "--save-dir", str(tmp_path / command))
        assert_one_line_error(result, "learning_rate=-1 is invalid")
        lines.add(result.stderr.strip())
        assert not (tmp_path / command).exists()
    assert len(lines) == 1, lines


def test_commands_dispatch_through_their_parser_defaults():
    parser = build_parser()
    for argv in (["train"], ["compare"], ["tune"], ["envs"], ["report", "x"], ["evaluate", "x"]):
        handler = parser.parse_args(argv).handler
        assert handler.__name__ == f"run_{argv[0]}", argv


def test_every_part_has_a_help_group_and_no_setting_is_named_twice():
    assert list(GROUP_TITLES) == list(PARTS)
    named = [name for part in PARTS.values() for name in part.model_fields]
    assert len(named) == len(set(named)) == len(SETTINGS)  # a flat key names one setting


def test_help_is_grouped_with_examples_under_every_command():
    parser = build_parser()
    assert "examples:" in parser.format_help()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        text = command.format_help()
        assert "examples:" in text and f"soccer-td3 {name}" in text.split("examples:")[1]
    train = commands["train"].format_help()
    for title in GROUP_TITLES.values():
        assert f"\n{title}:\n" in train
    # a setting sits in its group: --gamma after "TD3:", before "networks:"
    assert train.index("\nTD3:\n") < train.index("\n  --gamma") < train.index("\nnetworks:\n")
