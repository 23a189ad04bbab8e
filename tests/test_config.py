from pathlib import Path

import pytest
import yaml

from soccer_td3.config import PRESETS, TrainConfig, build_config, parse_net, parse_set_overrides
from soccer_td3.errors import UserError


def test_defaults_are_the_seed_task3_recipe():
    c = TrainConfig()
    assert c.networks.actor_net == c.networks.critic_net == [512, 256, 128, 64]
    assert c.networks.activation == "relu"
    assert (c.td3.learning_rate, c.td3.batch_size, c.td3.buffer_size) == (3e-4, 256, 1_000_000)
    assert (c.td3.learning_starts, c.td3.train_freq, c.td3.gradient_steps) == (10_000, 1, 1)
    assert (c.td3.tau, c.td3.policy_delay, c.td3.gamma) == (0.005, 2, 0.99)
    assert (c.td3.target_policy_noise, c.td3.target_noise_clip, c.td3.exploration_noise) == (
        0.2,
        0.5,
        0.1,
    )
    assert c.environment.env == ["LowerT1GoaliePenaltyKick-v0"]


def test_presets_apply_the_seed_columns():
    assert build_config("balanced") == TrainConfig()
    assert build_config("large").networks.actor_net == [1024, 512, 256, 128]
    assert build_config("very-deep").networks.critic_net == [256, 256, 256, 256, 128]
    base = build_config("baseline")
    assert (base.networks.actor_net, base.networks.critic_net) == ([256], [256])
    assert (
        base.td3.learning_rate,
        base.td3.batch_size,
        base.td3.tau,
        base.td3.target_policy_noise,
    ) == (
        1e-4,
        64,
        0.001,
        0.1,
    )
    assert set(PRESETS) == {"balanced", "large", "very-deep", "baseline", "fast", "soccer"}
    fast = build_config("fast")
    assert (
        fast.environment.control_spec.balanced
        and fast.networks.obs_norm
        and fast.environment.observation_mode == "features"
    )
    assert (fast.environment.decimation, fast.networks.actor_net) == (10, [256, 256])


def test_yaml_round_trip(tmp_path: Path):
    original = build_config("baseline", overrides={"seed": 7, "actor_net": "128,64"})
    original.to_yaml(tmp_path / "config.yaml")
    assert build_config(config_file=tmp_path / "config.yaml") == original


def test_config_yaml_is_written_in_its_five_parts_and_an_old_flat_one_still_loads(tmp_path):
    config = build_config("soccer", overrides={"seed": 3})
    config.to_yaml(tmp_path / "config.yaml")
    written = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert list(written) == ["environment", "td3", "networks", "speed", "run"]
    assert written["td3"]["gamma"] == 0.98 and written["run"]["seed"] == 3
    # A run folder from before the split: every setting at the top level.
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(config.flat()))
    assert "gamma: 0.98" in (tmp_path / "old.yaml").read_text().splitlines()
    assert build_config(config_file=tmp_path / "old.yaml") == config
    assert TrainConfig(**config.flat()) == TrainConfig(**config.model_dump()) == config


def test_a_flat_flag_overrides_one_setting_of_a_nested_config_file(tmp_path: Path):
    (tmp_path / "c.yaml").write_text("td3:\n  gamma: 0.9\n  tau: 0.02\nrun:\n  seed: 5\n")
    c = build_config("baseline", tmp_path / "c.yaml", {"tau": 0.03})
    assert (c.td3.gamma, c.td3.tau, c.run.seed, c.td3.batch_size) == (0.9, 0.03, 5, 64)


def test_replace_validates_across_parts():
    config = TrainConfig().replace(gamma=0.5, num_envs=3)
    assert (config.td3.gamma, config.speed.num_envs) == (0.5, 3)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig().replace(batch_size=10, buffer_size=5)


def test_overrides_win_over_config_file_which_wins_over_preset(tmp_path: Path):
    (tmp_path / "c.yaml").write_text("learning_rate: 0.001\nbatch_size: 128\n")
    c = build_config("baseline", tmp_path / "c.yaml", {"batch_size": 32})
    assert (c.td3.learning_rate, c.td3.batch_size, c.td3.tau) == (0.001, 32, 0.001)


def test_set_values_are_read_as_yaml():
    overrides = parse_set_overrides(["learning_rate=5e-4", "actor-net=64,32", "gamma=0.98"])
    c = build_config(overrides=overrides)
    assert (c.td3.learning_rate, c.networks.actor_net, c.td3.gamma) == (5e-4, [64, 32], 0.98)
    c = build_config(overrides=parse_set_overrides(["actor_net=[64, 32]"]))
    assert c.networks.actor_net == [64, 32]


@pytest.mark.parametrize("text, sizes", [("512,256,128,64", [512, 256, 128, 64]), ("[64]", [64])])
def test_net_strings_parse(text, sizes):
    assert parse_net(text) == sizes


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"learning_rate": -1}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"tau": 0}, "tau"),
        ({"tau": 1.5}, "tau"),
        ({"gamma": 1.0}, "gamma"),
        ({"gamma": -0.1}, "gamma"),
        ({"actor_net": "512,-3"}, "actor_net"),
        ({"critic_net": "512,,64"}, "critic_net"),
        ({"critic_net": "abc"}, "critic_net"),
        ({"env": ["NoSuchTask-v0"]}, "env"),
        ({"batch_size": 512, "buffer_size": 100}, "batch_size"),
        ({"policy_delay": 0}, "policy_delay"),
        ({"seed": 2**70}, "seed"),  # torch cannot hold it: refused before any folder exists
        ({"learning_rate": float("inf")}, "learning_rate"),
        ({"learning_rate": "1e400"}, "learning_rate"),  # YAML and float() read it as inf
        ({"tau": float("nan")}, "tau"),
        ({"shaping": {"fall": float("inf")}}, "fall"),
    ],
)
def test_impossible_values_are_one_user_error_naming_the_field(overrides, named):
    with pytest.raises(UserError) as info:
        build_config(overrides=overrides)
    message = str(info.value)
    assert named in message and "\n" not in message


def test_unknown_keys_are_rejected_everywhere(tmp_path: Path):
    with pytest.raises(UserError, match="unknown setting 'lr'"):
        parse_set_overrides(["lr=1e-3"])
    with pytest.raises(UserError, match="not key=value"):
        parse_set_overrides(["tau"])
    (tmp_path / "c.yaml").write_text("lr: 0.001\n")
    with pytest.raises(UserError, match="unknown setting 'lr'"):
        build_config(config_file=tmp_path / "c.yaml")
    with pytest.raises(UserError, match="unknown preset"):
        build_config("huge")
    with pytest.raises(UserError, match="does not exist"):
        build_config(config_file=tmp_path / "missing.yaml")


def test_pd_settings_default_to_the_official_controller_and_refuse_bad_joint_lists():
    from soccer_td3.config import build_config
    from soccer_td3.errors import UserError

    spec = TrainConfig(
        control="pd", decimation=10, pd_kp="100," * 11 + "100"
    ).environment.control_spec
    assert spec.kp == (100.0,) * 12 and spec.decimation == 10
    assert TrainConfig().environment.control_spec.kd == (5.0, 5.0, 5.0, 5.0, 1.0, 1.0) * 2
    assert TrainConfig().environment.control_spec.pose[:6] == (-0.2, 0.0, 0.0, 0.4, -0.25, 0.0)
    for bad in (
        {"pd_kp": "1,2"},
        {"pd_pose": "a,b"},
        {"decimation": 0},
        {"control": "force"},
        {"pd_balance": "2"},
        {"pd_balance": "2,0.05", "control": "pd"},  # obs raw: the export could not read the tilt
        {"pd_balance": "2,0.05", "obs": "features"},  # torque control: no targets to move
    ):
        with pytest.raises(UserError, match="invalid config"):
            build_config(overrides=bad)
