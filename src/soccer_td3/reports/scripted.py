"""The scripted baselines every learned result is reported against, as policies `evaluate` plays.

- chaser: command control with the chaser as its prior and nothing added (envs/chaser.py);
- stand: command control holding the zero command, which the walking skill stands on.

Both run the walking skill exactly as a trained commander does, with TrainConfig's default
command range and decision period, so a learned result and its baseline differ only in who
chooses the command.
"""

from __future__ import annotations

import numpy as np
import torch

from soccer_td3.config import TrainConfig
from soccer_td3.envs.command import to_action
from soccer_td3.envs.control import ControlSpec
from soccer_td3.training.evaluation import Policy

SCRIPTED_POLICIES = ("chaser", "stand")
OBS_MODE = "commander"


def scripted_control(name: str) -> ControlSpec:
    """The control a scripted policy plays through: command control, its prior set."""
    prior = "chaser" if name == "chaser" else "none"
    return TrainConfig(control="command", prior=prior).environment.control_spec


def scripted_policy(name: str, control: ControlSpec, noise: float, seed: int) -> Policy:
    """The constant action of `name` (0 over the chaser's prior; the zero command for stand),
    with Gaussian noise of std `noise` on it, clipped to [-1, 1]."""
    if name == "stand":
        low, high = (torch.tensor(v) for v in (control.command_low, control.command_high))
        base = to_action(torch.zeros(1, 3), low, high)[0].numpy()
    else:
        base = np.zeros(3, np.float32)
    rng = np.random.default_rng(seed)

    def act(_obs: np.ndarray, _info: dict) -> np.ndarray:
        if noise == 0:
            return base
        return np.clip(base + noise * rng.standard_normal(3), -1.0, 1.0).astype(np.float32)

    return act


def scripted_path(name: str) -> str:
    return f"scripted {name} (command control over the T1 walking skill, no weights)"
