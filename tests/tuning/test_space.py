from pathlib import Path

import optuna
import pytest

from soccer_td3.config import PRESETS, TrainConfig
from soccer_td3.errors import UserError
from soccer_td3.tuning.space import (
    DEFAULT_SPACE,
    NET_PRESETS,
    check_space,
    load_search_space,
    sample,
    trial_config,
)


def sampled_configs(space, n: int) -> list[tuple[dict, TrainConfig]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    out = []
    for _ in range(n):
        trial = study.ask()
        values = sample(trial, space)
        out.append((trial.params, trial_config(TrainConfig(), values)))
        study.tell(trial, 0.0)
    return out


def test_every_default_sample_is_a_valid_config_within_the_ranges():
    seen_nets, seen_shaping = set(), set()
    for params, config in sampled_configs(DEFAULT_SPACE, 40):
        assert 1e-5 <= config.td3.learning_rate <= 1e-3
        assert config.td3.batch_size in (64, 128, 256, 512)
        assert 0.001 <= config.td3.tau <= 0.02
        assert 0.05 <= config.td3.target_policy_noise <= 0.4
        assert 1 <= config.td3.policy_delay <= 4
        assert config.td3.gamma in (0.95, 0.98, 0.99, 0.995)
        assert config.networks.actor_net == config.networks.critic_net == NET_PRESETS[params["net"]]
        assert config.environment.shaping.active == (params["shaping"] == "default")
        seen_nets.add(params["net"])
        seen_shaping.add(params["shaping"])
    assert seen_nets == set(PRESETS) and seen_shaping == {"none", "default"}


def test_a_search_space_file_narrows_ranges_and_fixes_values(tmp_path: Path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "learning_rate: {low: 1e-4, high: 5e-4}\n"  # YAML reads 1e-4 as a string: accepted
        "batch_size: [128, 256]\n"
        "policy_delay: {high: 2}\n"
        "net: balanced\n"
        "shaping: default\n"
    )
    space = load_search_space(path)
    assert space["tau"] == DEFAULT_SPACE["tau"]  # not named: default range
    for params, config in sampled_configs(space, 15):
        assert 1e-4 <= config.td3.learning_rate <= 5e-4
        assert config.td3.batch_size in (128, 256)
        assert config.td3.policy_delay in (1, 2)
        assert "net" not in params and "shaping" not in params  # fixed: not searched
        assert (
            config.networks.actor_net == [512, 256, 128, 64] and config.environment.shaping.active
        )


def test_layer_sizes_are_net_choices_too(tmp_path: Path):
    path = tmp_path / "space.yaml"
    path.write_text("net: [[64, 64], '128,128', baseline]\n")
    choices = load_search_space(path)["net"].choices
    assert choices == ("64,64", "128,128", "baseline")
    config = trial_config(TrainConfig(), {"net": "64,64"})
    assert config.networks.actor_net == config.networks.critic_net == [64, 64]


@pytest.mark.parametrize(
    "text, words",
    [
        ("lr: [1e-4]\n", ["unknown parameter 'lr'", "learning_rate, batch_size, tau"]),
        ("tau: {low: 0.01, high: 0.001}\n", ["tau", "low=0.01 above high=0.001"]),
        ("learning_rate: {low: 0, high: 1.0e-3}\n", ["log=true needs low > 0"]),
        ("net: {low: 1, high: 2}\n", ["net takes a list of choices or one value"]),
        ("batch_size: []\n", ["empty list of choices"]),
        ("gamma: {low: 0.9, hi: 0.99}\n", ["unknown key(s) hi", "{low: ..., high: ..."]),
        ("policy_delay: {low: 1, high: 2.5}\n", ["policy_delay", "must be an integer"]),
        ("net: [huge]\n", ["'huge' is neither a preset", "balanced"]),
        ("batch_size: [64, 64]\n", ["repeats a choice"]),
        ("- learning_rate\n", ["must map parameter names"]),
        ("tau: {low: [1\n", ["not valid YAML"]),
    ],
)
def test_a_bad_search_space_file_is_one_readable_line(tmp_path: Path, text: str, words: list):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        load_search_space(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(
    "text, words",
    [
        ("tau: {low: 0.01, high: 2}\n", ["tau=2.0 cannot be used", "less than or equal to 1"]),
        ("gamma: [0.99, 1.0]\n", ["gamma=1.0 cannot be used"]),
        ("batch_size: [64, 4096]\n", ["batch_size=4096", "exceeds buffer_size"]),
    ],
)
def test_values_that_make_no_valid_config_fail_before_the_study(tmp_path, text, words):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    base = TrainConfig(buffer_size=1000)
    with pytest.raises(UserError) as caught:
        check_space(load_search_space(path), base, f"search space file {path}")
    for word in words:
        assert word in str(caught.value), caught.value


def test_a_missing_search_space_file_says_so(tmp_path: Path):
    with pytest.raises(UserError, match="does not exist"):
        load_search_space(tmp_path / "nope.yaml")
