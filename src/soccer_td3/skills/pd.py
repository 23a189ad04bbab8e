"""Joint targets to torques, written once: the PD law and the official controller's targets.

Every path from joint targets to torques runs these functions: the walking skill at every
physics step (skills/walk.py), joint-target control in training and evaluation
(envs/control.py's JointControl) and both inside an exported submission (export.py,
hierarchy.py). Each caller clips in its own units: the env takes torques within its actuator
range, a submission returns torque / bound in [-1, 1] for the SDK to scale back. Torch, so the
same code is scripted into the submission; JointControl runs it in float64 on the env's own
arrays, so its torques are the ones a numpy law would give, bit for bit.

The official Booster controller (the kit's booster_control/t1_utils.py and lower_t1.yaml):
target = pose + scale * clip(action, -1, 1), torque = Kp (target - q) - Kd q_dot. `balance`
adds what it lacks: the ankle pitch targets move by k_tilt * g_x + k_rate * w_y, g being gravity
in the torso frame (its x grows as the robot tips forward) and w the torso gyro.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

N_JOINTS = 12  # hip pitch, hip roll, hip yaw, knee, ankle pitch, ankle roll; left then right
ANKLE_PITCH = (4, 10)  # the joints the balance feedback moves


def pd_torque(target: Tensor, q: Tensor, q_dot: Tensor, kp: Tensor, kd: Tensor) -> Tensor:
    """The PD law, before any clipping: Kp (target - q) - Kd q_dot."""
    return kp * (target - q) - kd * q_dot


def normalised_torque(torque: Tensor, bound: Tensor) -> Tensor:
    """torque / bound clipped to [-1, 1]: what a submission returns and the SDK scales back."""
    return (torque / bound).clamp(-1.0, 1.0)


def balance_offset(gravity_x, gyro_y, gains: tuple[float, float]):
    """The ankle pitch targets' shift that keeps the pose from tipping (see the module doc)."""
    return gains[0] * gravity_x + gains[1] * gyro_y


class JointTargets(nn.Module):
    """The official controller's chain for B rows: an action in [-1, 1]^12 to joint targets
    around the pose, the balance feedback on the ankles, and the PD law's torques (unclipped:
    the caller clips in its units)."""

    def __init__(
        self,
        kp,
        kd,
        pose,
        action_scale: float,
        balance: tuple[float, float] | None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        as_row = lambda values: torch.as_tensor(values, dtype=dtype)  # noqa: E731
        self.register_buffer("kp", as_row(kp))
        self.register_buffer("kd", as_row(kd))
        self.register_buffer("pose", as_row(pose))
        ankles = torch.zeros(N_JOINTS, dtype=dtype)
        ankles[list(ANKLE_PITCH)] = 1.0
        self.register_buffer("ankle_pitch", ankles)
        self.action_scale = float(action_scale)
        self.balanced = balance is not None
        self.gains = balance if balance is not None else (0.0, 0.0)

    def target(self, action: Tensor) -> Tensor:
        """Joint targets of an action: pose + scale * clip(action, -1, 1)."""
        return self.pose + self.action_scale * action.clamp(-1.0, 1.0)

    def forward(self, target: Tensor, joints: Tensor, gravity_x: Tensor, gyro_y: Tensor) -> Tensor:
        """Torques (B, 12) for `target` (B, 12), `joints` (B, 24: positions then velocities) and,
        for the balance feedback, `gravity_x` and `gyro_y` (B, 1)."""
        if self.balanced:
            target = target + balance_offset(gravity_x, gyro_y, self.gains) * self.ankle_pitch
        q, q_dot = joints[:, :N_JOINTS], joints[:, N_JOINTS : 2 * N_JOINTS]
        return pd_torque(target, q, q_dot, self.kp, self.kd)
