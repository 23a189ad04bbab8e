"""The one builder of a task's env as an agent sees it: the real sai_mujoco env, its control
(torques, PD targets or walking commands), its reward shaping when asked, and the observation
mode. Training's vector envs, evaluation, videos and the tuner all make their envs here, so a
wrapper added once reaches every one of them.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from soccer_td3.envs.command import CommandControl
from soccer_td3.envs.commander import COMMANDER_SIZE, commander_features
from soccer_td3.envs.control import ControlSpec, JointControl
from soccer_td3.envs.observation import FEATURE_SIZE, features
from soccer_td3.envs.registry import make_env, task_spec
from soccer_td3.envs.shaping import RewardShaping, ShapingWeights

# The observation modes built from (obs, info): their vector function and size.
OBSERVATIONS: dict[str, tuple[Callable, int]] = {
    "features": (features, FEATURE_SIZE),
    "commander": (commander_features, COMMANDER_SIZE),
}


def observation_size(obs_mode: str, task: str) -> int:
    """The length of `task`'s observation in `obs_mode` (raw: the task's own)."""
    if obs_mode in OBSERVATIONS:
        return OBSERVATIONS[obs_mode][1]
    return task_spec(task).obs_dim


class VectorObservation(gym.Wrapper):
    """Replaces a task's observation by `vector(obs, info, task)`; info passes through."""

    def __init__(self, env: gym.Env, task_id: str, obs_mode: str) -> None:
        super().__init__(env)
        self.task_id = task_id
        self.vector, size = OBSERVATIONS[obs_mode]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return self.vector(obs, info, self.task_id), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.vector(obs, info, self.task_id), reward, terminated, truncated, info


def make_task_env(
    task: str,
    seed: int | None,
    obs_mode: str,
    shaping: ShapingWeights | None = None,
    gamma: float = 0.99,
    control: ControlSpec | None = None,
    **gym_kwargs,
) -> gym.Env:
    """`task`'s env with its `control` (None or the seed's torques: the bare env), `shaping`
    (None: the env's own reward; gamma is the learner's, which the potential terms need to
    stay policy-invariant) and `obs_mode` raw, features or commander; `gym_kwargs` go to
    gym.make (render_mode="rgb_array", width, height). Control sits innermost: it needs the raw
    joint observation, and shaping then sees one step per policy action, as the learner's gamma
    does."""
    env = make_env(task, seed, **gym_kwargs)
    if control is not None and control.control == "command":
        env = CommandControl(env, control, task)
    elif control is not None and control.needs_wrapper:
        env = JointControl(env, control)
    if shaping is not None:
        env = RewardShaping(env, shaping, gamma, task)
    return VectorObservation(env, task, obs_mode) if obs_mode in OBSERVATIONS else env
