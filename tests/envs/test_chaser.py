"""The scripted chaser plays the real tasks through command control."""

import torch

from soccer_td3.envs.build import make_task_env
from soccer_td3.envs.chaser import chaser_command
from soccer_td3.envs.commander import COMMANDER_SIZE, COMMANDER_SLICES
from soccer_td3.reports.scripted import scripted_control, scripted_path, scripted_policy
from soccer_td3.training.evaluation import play_task

GOALIE = "LowerT1GoaliePenaltyKick-v0"


def play_goalie(name: str):
    control = scripted_control(name)
    env = make_task_env(GOALIE, 0, "commander", control=control)
    act = scripted_policy(name, control, 0.0, 0)
    return play_task(env, act, GOALIE, 1, 0, 0.0, scripted_path(name))


def test_the_chaser_scores_on_the_goalie_task_without_falling():
    result = play_goalie("chaser")
    assert result.success_rate == 1.0 and result.fall_rate == 0.0
    assert result.score_mean > 2.0 and result.length_mean < 3000


def test_standing_scores_what_standing_scores():
    result = play_goalie("stand")
    assert result.fall_rate == 0.0 and result.touch_rate == 0.0
    assert -1.0 < result.score_mean < -0.98


def vector(ball, target) -> torch.Tensor:
    features = torch.zeros(1, COMMANDER_SIZE)
    features[0, COMMANDER_SLICES["ball"]] = torch.tensor(ball)
    features[0, COMMANDER_SLICES["target"]] = torch.tensor(target)
    return features


def test_lined_up_behind_the_ball_the_chaser_walks_through_it():
    command = chaser_command(vector([0.5, 0.0], [4.0, 0.0]))[0]
    assert command[0] == 1.0 and abs(command[2]) < 1e-6


def test_beside_the_ball_the_chaser_first_goes_behind_it():
    """Ball 1 m to the left, target straight ahead: walk back-left, toward the run-up point."""
    command = chaser_command(vector([0.0, 1.0], [4.0, 1.0]))[0]
    assert command[1] > 0  # leftwards
    assert command[0] < 0.9  # not the strike
