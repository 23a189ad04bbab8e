"""Command control on the real simulator: the action's range and the decision period take
effect, a transition sums its steps' rewards and stops at a termination, and the prior adds."""

import numpy as np
import pytest
import torch

from soccer_td3.config import TrainConfig, build_config
from soccer_td3.envs.build import make_task_env
from soccer_td3.envs.chaser import chaser_command
from soccer_td3.envs.command import CommandControl, sdk_action, to_action, to_command
from soccer_td3.envs.commander import commander_features
from soccer_td3.envs.registry import make_env
from soccer_td3.errors import UserError

GOALIE = "LowerT1GoaliePenaltyKick-v0"


def command_env(**settings) -> CommandControl:
    spec = TrainConfig(control="command", **settings).environment.control_spec
    return CommandControl(make_env(GOALIE), spec, GOALIE)


def walked(env: CommandControl, action, decisions: int) -> float:
    """Metres the robot's root moved on the ground (relative to goal_team_0, a fixed point)."""
    _, first = env.reset(seed=0)
    for _ in range(decisions):
        _, _, _, _, info = env.step(np.asarray(action, np.float32))
    env.close()
    moved = np.asarray(first["goal_team_0_rel_robot"]) - np.asarray(info["goal_team_0_rel_robot"])
    return float(np.linalg.norm(moved[:2]))


def test_the_action_maps_linearly_onto_the_command_range():
    low, high = torch.tensor([-0.5, -0.2, -1.0]), torch.tensor([1.0, 0.2, 0.5])
    actions = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    commands = to_command(actions, low, high)
    expected = torch.tensor([[-0.5, -0.2, -1.0], [1.0, 0.2, 0.5], [0.25, 0.0, -0.25]])
    assert torch.allclose(commands, expected)
    assert torch.allclose(to_action(commands, low, high), actions)


def test_the_command_range_takes_effect_on_how_far_the_robot_walks():
    """Action +1 forward for 3 s: command_high 1.0 walks about twice as far as 0.4."""
    fast = walked(command_env(command_high=[1.0, 0.5, 1.0]), [1.0, 0.0, 0.0], 30)
    slow = walked(command_env(command_high=[0.4, 0.5, 1.0]), [1.0, 0.0, 0.0], 30)
    assert fast > 1.5 * slow > 0.3


def test_the_decision_period_takes_effect():
    for period in (20, 50):
        env = command_env(decimation=period)
        env.reset(seed=0)
        _, _, _, _, info = env.step(np.zeros(3, np.float32))
        env.close()
        assert info["env_steps"] == period


def test_a_transition_sums_its_steps_rewards():
    """Five decisions of 10 steps, and one of 50, from the same start: the same reward."""
    short, long = command_env(decimation=10), command_env(decimation=50)
    short.reset(seed=0)
    long.reset(seed=0)
    action = np.array([0.5, 0.0, 0.0], np.float32)
    summed = sum(short.step(action)[1] for _ in range(5))
    assert long.step(action)[1] == pytest.approx(summed, rel=1e-9)


def test_a_termination_inside_a_decision_ends_it_there():
    """The chaser scores on goalie: the last transition stops at the goal, mid-period."""
    env = command_env(prior="chaser", decimation=50)
    env.reset(seed=0)
    steps = 0
    while True:
        _, _, terminated, truncated, info = env.step(np.zeros(3, np.float32))
        steps += info["env_steps"]
        if terminated or truncated:
            break
    assert terminated and info["reward_terms"]["goal_scored"]
    assert info["env_steps"] < 50 and steps % 50 == info["env_steps"]


def test_the_prior_adds_the_chasers_command():
    env = command_env(prior="chaser")
    obs, info = env.reset(seed=0)
    features = torch.from_numpy(commander_features(obs, info, GOALIE)).unsqueeze(0)
    _, _, _, _, info = env.step(np.zeros(3, np.float32))
    spec = env.command_spec
    low, high = torch.tensor(spec.command_low), torch.tensor(spec.command_high)
    expected = to_command(to_action(chaser_command(features), low, high), low, high)[0]
    assert np.allclose(info["command"], expected.numpy())
    plain = command_env(prior="none")
    plain.reset(seed=0)
    _, _, _, _, info = plain.step(np.zeros(3, np.float32))
    assert np.allclose(info["command"], to_command(torch.zeros(1, 3), low, high)[0].numpy())


def test_torques_reach_the_env_through_the_sdks_mapping():
    low, high = np.array([-45.0, -30.0], np.float32), np.array([45.0, 30.0], np.float32)
    mapped = sdk_action(np.array([0.5, -1.2], np.float32), low, high)
    assert mapped.dtype == np.float32 and np.allclose(mapped, [22.5, -30.0])


def test_command_env_observes_the_commander_vector():
    config = build_config("soccer", overrides={"env": [GOALIE]})
    env = make_task_env(
        GOALIE, 0, config.environment.observation_mode, control=config.environment.control_spec
    )
    obs, _ = env.reset(seed=0)
    assert obs.shape == (config.environment.observation_size,) and env.action_space.shape == (3,)
    env.close()


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"control": "walk"}, ["control", "torque", "command"]),
        ({"control": "command", "prior": "keeper"}, ["prior", "none", "chaser"]),
        ({"control": "command", "command_high": [1.5, 0.5, 1.0]}, ["trained range"]),
        ({"control": "command", "command_low": "-1,-1"}, ["needs 3 values"]),
        ({"control": "command", "decimation": 25}, ["multiple of 10"]),
        ({"control": "command", "command_low": [1.0, -0.5, -1.0]}, ["below command_high"]),
        ({"control": "command", "obs": "features"}, ["obs commander"]),
        ({"control": "command", "env": ["T1GoaliePenaltyKick-v0"]}, ["lower-body"]),
    ],
)
def test_bad_command_settings_are_one_line_config_errors(overrides, words):
    with pytest.raises(UserError) as error:
        build_config(overrides=overrides)
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
