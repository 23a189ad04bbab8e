"""Command control: an action is a walking command, and the walking skill plays it out.

The agent's action in [-1, 1]^3 maps linearly onto (forward m/s, left m/s, yaw rate rad/s)
within `command_low`..`command_high` of the ControlSpec (inside the skill's trained +-1). One
decision lasts `decimation` env steps
(0.1 s = 50 by default): the skill (skills/walk.py) sets joint targets every 10th of them and
the PD law turns them into torques at each. As with JointControl, the transition sums the env
reward of its steps, ends at the first termination or truncation inside it and says in
info["env_steps"] how many env steps it took.

`prior: chaser` adds the scripted chaser's command (envs/chaser.py), normalised, to the action
before clipping: the learner then owns a correction, not the whole behaviour.

Torques reach the env exactly as a submission's do: the controller's normalised torque goes
through the SAI SDK's own mapping onto [low, high] (`sdk_action`), so `evaluate` and the
exported model played by the SDK step the simulator with identical numbers.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from soccer_td3.envs.chaser import chaser_command
from soccer_td3.envs.commander import N_SKILL_JOINTS, commander_features, skill_inputs
from soccer_td3.envs.control import ControlSpec
from soccer_td3.skills.walk import WalkController

COMMAND_SIZE = 3  # forward m/s, left m/s, yaw rate rad/s


def to_command(action: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """Normalised actions (B, 3) -> commands within [low, high]."""
    return low + (action.clamp(-1.0, 1.0) + 1.0) * 0.5 * (high - low)


def to_action(command: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """Commands -> normalised actions, clipped to [-1, 1] (the command range's edges)."""
    return ((command - low) / (high - low) * 2.0 - 1.0).clamp(-1.0, 1.0)


def prior_action(prior: str, features: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """The normalised action the prior proposes (zeros for none)."""
    if prior == "chaser":
        return to_action(chaser_command(features), low, high)
    return torch.zeros(features.shape[0], COMMAND_SIZE)


def sdk_action(normalised: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The SAI SDK's mapping of a model's output onto the action bounds (sai-rl 0.1.37,
    BaseModelHandler.get_action), float32 as it computes it."""
    percent = np.clip((normalised.astype(np.float32) + np.float32(1)) / np.float32(2), 0, 1)
    return low + (high - low) * percent


class CommandControl(gym.Wrapper):
    """Actions are normalised walking commands; see the module doc."""

    def __init__(self, env: gym.Env, spec: ControlSpec, task_id: str) -> None:
        super().__init__(env)
        self.command_spec, self.task_id = spec, task_id
        self.low = torch.tensor(spec.command_low, dtype=torch.float32)
        self.high = torch.tensor(spec.command_high, dtype=torch.float32)
        self.torque_low, self.torque_high = env.action_space.low, env.action_space.high
        self.controller = WalkController(torch.as_tensor(env.action_space.high))
        self.action_space = gym.spaces.Box(-1.0, 1.0, (COMMAND_SIZE,), np.float32)
        self._obs: np.ndarray | None = None
        self._info: dict = {}
        self._reset_pending = True

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._obs, self._info, self._reset_pending = obs, info, True
        return obs, info

    def command(self, action) -> Tensor:
        """The command of a normalised action, the prior's proposal added first."""
        action = torch.as_tensor(np.asarray(action, np.float32)).reshape(1, COMMAND_SIZE)
        if self.command_spec.prior != "none":
            features = commander_features(self._obs, self._info, self.task_id)
            features_t = torch.from_numpy(features).unsqueeze(0)
            action = action + prior_action(self.command_spec.prior, features_t, self.low, self.high)
        return to_command(action, self.low, self.high)

    @torch.inference_mode()
    def step(self, action):
        command = self.command(action)
        total, env_steps = 0.0, 0
        while True:
            row = torch.from_numpy(skill_inputs(self._obs, self._info)).unsqueeze(0)
            reset = torch.tensor([self._reset_pending])
            self._reset_pending = False
            joints = 2 * N_SKILL_JOINTS
            normalised = self.controller(
                command, row[:, :joints], row[:, joints : joints + 3], row[:, joints + 3 :], reset
            )
            torque = sdk_action(normalised[0].numpy(), self.torque_low, self.torque_high)
            obs, reward, terminated, truncated, info = self.env.step(torque)
            self._obs, self._info, env_steps = obs, info, env_steps + 1
            total += float(reward)
            if terminated or truncated or env_steps == self.command_spec.decimation:
                break
        info["env_steps"] = env_steps
        info["command"] = command[0].numpy()
        return obs, total, terminated, truncated, info
