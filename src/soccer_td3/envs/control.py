"""How a policy's action becomes joint torques: straight torques, or joint targets through a PD
law as the official Booster controller does, each held for `decimation` env steps.

The env steps at 500 Hz (2 ms). The official controller (the kit's booster_control/t1_utils.py
and lower_t1.yaml) decides every 10th step (50 Hz): target = pose + scale * clip(action, -1, 1),
and at every env step torque = clip(Kp (target - q) - Kd q_dot) to the actuator range, q and
q_dot being obs[:12] and obs[12:24]. That chain is skills/pd.py's, the one copy the export
runs too. A held action's transition sums the rewards of its env
steps and ends at the first termination or truncation inside the hold. `info["env_steps"]`
says how many env steps it lasted, so lengths and fps stay in env steps for either control.

`balance` adds a feedback the official controller lacks: at every env step the ankle pitch
targets move by k_tilt * g_x + k_rate * w_y, g being gravity in the torso frame (its x grows
as the robot tips forward) and w the torso gyro. Holding the pose alone, the robot tips
forward and falls at env step 576 on goalie; with (2, 0.05) it stands through truncation
(5000 env steps) on the three competition tasks (docs/design.md). A policy then learns a
residual over a robot that stands, rather than standing itself from a robot that falls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
import torch

from soccer_td3.envs.observation import projected_gravity
from soccer_td3.skills.pd import N_JOINTS, JointTargets


@dataclass(frozen=True)
class ControlSpec:
    """How actions reach the joints. No defaults here: TrainConfig's control, decimation and
    pd_* fields are their one source (the official values)."""

    control: str  # "torque" | "pd" | "command" (envs/command.py: the walking skill's commands)
    decimation: int  # env steps an action lasts; with command control, the decision period
    kp: tuple[float, ...]
    kd: tuple[float, ...]
    pose: tuple[float, ...]
    action_scale: float
    balance: tuple[float, float]  # (k_tilt rad per unit of g_x, k_rate rad per rad/s of w_y)
    # command control: the command range (forward m/s, left m/s, yaw rad/s) and the prior
    command_low: tuple[float, float, float]
    command_high: tuple[float, float, float]
    prior: str  # "none" | "chaser"

    @property
    def needs_wrapper(self) -> bool:
        """The seed's recipe (torque, every step) runs on the bare env: nothing per step."""
        return self.control != "torque" or self.decimation != 1

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict) -> ControlSpec | None:
        """The control a weight file's metadata records (None: torques, as before pd)."""
        recorded = meta.get("control")
        if not recorded:
            return None
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()}
        fields.setdefault("balance", (0.0, 0.0))  # weights written before balance existed
        fields.setdefault("command_low", (0.0, 0.0, 0.0))  # ... or before command control
        fields.setdefault("command_high", (0.0, 0.0, 0.0))
        fields.setdefault("prior", "none")
        return cls(**fields)

    @property
    def balanced(self) -> bool:
        return self.control == "pd" and any(self.balance)


class JointControl(gym.Wrapper):
    """`control` "pd": actions in [-1, 1] are joint targets around the pose; "torque": actions
    are the env's torques. Either way one action lasts `decimation` env steps."""

    def __init__(self, env: gym.Env, spec: ControlSpec) -> None:
        super().__init__(env)
        self.control, self.decimation = spec.control, spec.decimation
        self.low = env.action_space.low.astype(np.float64)
        self.high = env.action_space.high.astype(np.float64)
        balance = spec.balance if spec.balanced else None
        # float64 on the env's own arrays: the torques a numpy law would give, bit for bit.
        self.law = JointTargets(
            spec.kp, spec.kd, spec.pose, spec.action_scale, balance, torch.float64
        )
        if self.control == "pd":
            self.action_space = gym.spaces.Box(-1.0, 1.0, (N_JOINTS,), np.float32)
        self._obs: np.ndarray | None = None
        self._info: dict = {}

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._obs, self._info = obs, info
        return obs, info

    def target(self, action: np.ndarray) -> np.ndarray:
        """The joint targets of an action (the pose plus the scaled, clipped action)."""
        action = torch.as_tensor(np.asarray(action, np.float64)).unsqueeze(0)
        return self.law.target(action)[0].numpy()

    @torch.inference_mode()
    def torque(self, target: np.ndarray, obs: np.ndarray, info: dict) -> np.ndarray:
        """The PD law's torque toward `target` (balance feedback from info's tilt and gyro),
        clipped to the actuator range."""
        if self.law.balanced:
            gravity_x = projected_gravity(np.asarray(info["robot_quat"]))[0]
            gyro_y = float(np.asarray(info["robot_gyro"])[1])
        else:
            gravity_x = gyro_y = 0.0
        torque = self.law(
            torch.as_tensor(np.asarray(target, np.float64)).unsqueeze(0),
            torch.as_tensor(np.asarray(obs[: 2 * N_JOINTS], np.float64)).unsqueeze(0),
            torch.tensor([[gravity_x]], dtype=torch.float64),
            torch.tensor([[gyro_y]], dtype=torch.float64),
        )
        return np.clip(torque[0].numpy(), self.low, self.high)

    def step(self, action):
        target = self.target(action) if self.control == "pd" else None
        total, env_steps = 0.0, 0
        while True:
            torque = self.torque(target, self._obs, self._info) if target is not None else action
            obs, reward, terminated, truncated, info = self.env.step(torque)
            self._obs, self._info, env_steps = obs, info, env_steps + 1
            total += float(reward)
            if terminated or truncated or env_steps == self.decimation:
                break
        info["env_steps"] = env_steps
        return obs, total, terminated, truncated, info
