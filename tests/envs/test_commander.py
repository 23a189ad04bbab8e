"""The commander's vector on real resets and steps: heading frame, the fields each task has."""

import numpy as np
import pytest

from soccer_td3.envs.commander import (
    COMMANDER_SIZE,
    COMMANDER_SLICES,
    MODEL_INPUT_SIZE,
    commander_features,
    model_input,
    robot_yaw,
)
from soccer_td3.envs.observation import FEATURE_TASKS
from soccer_td3.envs.registry import make_env

GOALIE, OBSTACLE, KICK = FEATURE_TASKS[:3]


def reset(task, seed=0):
    env = make_env(task)
    obs, info = env.reset(seed=seed)
    env.close()
    return obs, info


def field(vector, name):
    return vector[COMMANDER_SLICES[name]]


def test_goalie_start_reads_ball_ahead_goal_beyond_and_keeper_in_it():
    """The robot faces -x; in its heading frame the ball is 2 m ahead and the goal 4.2 m."""
    obs, info = reset(GOALIE)
    vector = commander_features(obs, info, GOALIE)
    assert vector.shape == (COMMANDER_SIZE,) and vector.dtype == np.float32
    np.testing.assert_allclose(field(vector, "ball"), [2.0, 0.0], atol=0.02)
    np.testing.assert_allclose(field(vector, "target"), [4.2, 0.0], atol=0.02)
    np.testing.assert_allclose(field(vector, "keeper"), [4.2, 0.0], atol=0.02)
    assert not field(vector, "defenders").any()  # goalie has none (info repeats the robot)
    np.testing.assert_allclose(field(vector, "gravity"), [0.0, 0.0, -1.0], atol=0.01)
    assert field(vector, "task").tolist() == [1.0, 0.0, 0.0, 0.0]


def test_obstacle_defenders_stand_on_the_goal_line_beside_the_scoring_spot():
    obs, info = reset(OBSTACLE, seed=3)
    vector = commander_features(obs, info, OBSTACLE)
    defenders = field(vector, "defenders").reshape(3, 2)
    target = field(vector, "target")
    assert np.allclose(defenders[:, 0], target[0], atol=0.05)  # all on the goal line, 4.2 m
    assert np.all(np.abs(defenders[:, 1] - target[1]) > 0.3)  # none on the scoring spot
    assert not field(vector, "keeper").any()


def test_kick_to_target_vectors_turn_with_the_robots_heading():
    """The world-frame offsets in info, turned by -yaw, give the heading-frame vectors."""
    for seed in range(3):
        obs, info = reset(KICK, seed)
        vector = commander_features(obs, info, KICK)
        yaw = robot_yaw(info["robot_quat"])
        for name, key in (("ball", "ball_xpos_rel_robot"), ("target", "target_xpos_rel_robot")):
            world = np.asarray(info[key][:2], np.float64)
            turned = field(vector, name)
            back = np.array(
                [
                    np.cos(yaw) * turned[0] - np.sin(yaw) * turned[1],
                    np.sin(yaw) * turned[0] + np.cos(yaw) * turned[1],
                ]
            )
            np.testing.assert_allclose(back, world, atol=1e-5)


@pytest.mark.parametrize("task", [GOALIE, OBSTACLE, KICK])
def test_model_input_is_the_commander_vector_then_the_skills_inputs(task):
    obs, info = reset(task)
    row = model_input(obs, info, task)
    assert row.shape == (MODEL_INPUT_SIZE,)
    np.testing.assert_array_equal(row[:COMMANDER_SIZE], commander_features(obs, info, task))
    np.testing.assert_array_equal(row[COMMANDER_SIZE : COMMANDER_SIZE + 24], obs[:24])
    assert not row[COMMANDER_SIZE : COMMANDER_SIZE + 24].any()  # every joint 0 on reset


def test_an_unknown_task_is_refused():
    obs, info = reset(GOALIE)
    with pytest.raises(ValueError, match="no commander layout"):
        commander_features(obs, info, "T1GoaliePenaltyKick-v0")
