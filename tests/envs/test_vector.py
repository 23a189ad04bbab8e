import signal

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from soccer_td3.agent.replay import ReplayBuffer
from soccer_td3.envs.observation import FEATURE_SIZE
from soccer_td3.envs.vector import final_infos, make_vector_env, true_next_obs


def test_episode_end_stores_the_final_observation_not_the_reset_one():
    envs, env_tasks = make_vector_env(["LowerT1GoaliePenaltyKick-v0"], envs_per_task=1, seed=0)
    assert env_tasks == ["LowerT1GoaliePenaltyKick-v0"]
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    try:
        for _ in range(2000):  # random torques fall within ~130-300 steps
            action = rng.uniform(envs.action_space.low, envs.action_space.high)
            next_obs, _, terminated, truncated, infos = envs.step(action)
            ended = terminated | truncated
            if ended.any():
                break
        assert ended.any()
        real = true_next_obs(next_obs, infos, ended)
        assert np.array_equal(real[0], infos["final_obs"][0])
        assert not np.array_equal(real[0], next_obs[0])  # next_obs is the new episode's start
        (info,) = final_infos(infos, ended)
        assert "reward_terms" in info and isinstance(info["reward_terms"], dict)
    finally:
        envs.close()


def test_truncation_is_stored_as_not_done():
    """A time-limit cut must bootstrap: only termination is a done in the buffer."""
    envs = SyncVectorEnv(
        [lambda: gym.make("LowerT1KickToTarget-v0", max_episode_steps=5)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    obs, _ = envs.reset(seed=0)
    buffer = ReplayBuffer(10, obs.shape[1], 12)
    try:
        for _ in range(5):
            next_obs, reward, terminated, truncated, infos = envs.step(np.zeros((1, 12)))
            ended = terminated | truncated
            buffer.add(
                obs, np.zeros((1, 12)), reward, true_next_obs(next_obs, infos, ended), terminated
            )
            obs = next_obs
        assert truncated[0] and not terminated[0]
        assert buffer.contents().dones[:5, 0].tolist() == [0.0] * 5
        assert np.allclose(buffer.contents().next_obs[4].numpy(), infos["final_obs"][0])
    finally:
        envs.close()


def test_tasks_are_interleaved_in_equal_share():
    tasks = ["LowerT1GoaliePenaltyKick-v0", "LowerT1KickToTarget-v0"]
    envs, env_tasks = make_vector_env(tasks, envs_per_task=2, seed=0, obs_mode="features")
    try:
        assert env_tasks == tasks * 2
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (4, FEATURE_SIZE)
    finally:
        envs.close()


def test_async_envs_step_in_processes_of_their_own_and_keep_the_same_semantics():
    """Two command-control envs in spawned processes: same transitions as in-process."""
    from gymnasium.vector import AsyncVectorEnv

    from soccer_td3.config import TrainConfig

    control = TrainConfig(control="command", decimation=10).environment.control_spec
    results = []
    threads, on_ctrl_c = torch.get_num_threads(), signal.getsignal(signal.SIGINT)
    for asynchronous in (False, True):
        envs, _ = make_vector_env(
            ["LowerT1GoaliePenaltyKick-v0"], 2, 0, "commander", control=control,
            asynchronous=asynchronous,
        )  # fmt: skip
        assert isinstance(envs, AsyncVectorEnv) == asynchronous
        # The env processes' own set-up (one thread, Ctrl-C ignored) never reaches the learner's
        # process, where AsyncVectorEnv builds one env for the spaces.
        assert (torch.get_num_threads(), signal.getsignal(signal.SIGINT)) == (threads, on_ctrl_c)
        try:
            envs.reset(seed=0)
            action = np.tile(np.array([0.5, 0.0, 0.0], np.float32), (2, 1))
            for _ in range(3):
                obs, reward, _, _, infos = envs.step(action)
            assert infos["env_steps"].tolist() == [10, 10]
            results.append((obs, reward))
        finally:
            envs.close()
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
