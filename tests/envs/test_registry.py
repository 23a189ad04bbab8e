import gymnasium as gym
import numpy as np
import pytest

from soccer_td3.envs.registry import TASKS, make_env, task_spec
from soccer_td3.errors import UserError

LOWER_T1_BOUNDS = np.array([45, 45, 30, 65, 24, 15] * 2, dtype=np.float32)


@pytest.mark.parametrize("task_id", list(TASKS))
def test_each_known_task_is_a_real_env_of_the_recorded_size(task_id):
    spec = task_spec(task_id)
    env = make_env(task_id, seed=0)
    try:
        obs, _ = env.reset(seed=0)
        assert obs.shape == env.observation_space.shape == (spec.obs_dim,)
        assert env.action_space.shape == (spec.act_dim,)
        assert env.spec.max_episode_steps == spec.max_episode_steps
        obs, reward, *_ = env.step(env.action_space.sample())
        assert np.isfinite(obs).all() and np.isfinite(reward)
        if task_id.startswith("LowerT1"):
            assert np.array_equal(env.action_space.high, LOWER_T1_BOUNDS)
    finally:
        env.close()


def test_the_four_lower_t1_soccer_tasks_are_known():
    assert {
        "LowerT1GoaliePenaltyKick-v0",
        "LowerT1KickToTarget-v0",
        "LowerT1ObstaclePenaltyKick-v0",
        "LowerT1PenaltyKick-v0",
    } <= set(TASKS)


def test_every_t1_soccer_id_sai_mujoco_registers_is_known_or_known_broken():
    import sai_mujoco  # noqa: F401

    broken = {"LowerT1GoalKeeper-v0", "T1GoalKeeper-v0"}
    registered = {k for k in gym.registry if k.startswith(("T1", "LowerT1"))}
    assert registered - broken == set(TASKS)


def test_unknown_id_lists_the_valid_ones():
    with pytest.raises(UserError) as info:
        make_env("LowerT1Goalie-v0")
    assert "LowerT1GoaliePenaltyKick-v0" in str(info.value) and "\n" not in str(info.value)
