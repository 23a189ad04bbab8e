"""The Booster T1 walking skill: a velocity command in, joint torques out, with its own state.

Booster Robotics' published T1 locomotion policy (booster_gym `deploy/models/T1.pt`, Apache-2.0;
skills/t1_walk/NOTICE.md) is an MLP 47 -> 256 -> 128 -> 128 -> 12 (ELU) run at 50 Hz: every 10th
physics step it reads gravity in the torso frame, the gyro, the command, the gait phase, the
joints and its own previous output, and sets joint targets = pose + output; at every physics
step (500 Hz) a PD law turns the held targets into torques. Measured in sai_mujoco: command 0.6
m/s walks at 0.51 m/s and no command makes it fall (shared/skills/t1_walk/README.md).

WalkController keeps that state for B envs at once (one row each: physics-step counter, gait
phase, previous output, held targets), so one batched call serves a vector env or a submission's
batch. It is written for TorchScript: the same module runs inside the command-control wrapper
(training, evaluation) and inside the exported model, so the two play bit for bit alike.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from torch import Tensor, nn

from soccer_td3.errors import UserError
from soccer_td3.skills.clock import PHYSICS_DT, SKILL_EVERY
from soccer_td3.skills.pd import N_JOINTS, normalised_torque, pd_torque
from soccer_td3.skills.rows import RowByRow

SKILL_FILE = Path(__file__).parent / "t1_walk" / "t1_walk.safetensors"
SKILL_SHA256 = "72e93d0562984ff39dce089e65ce8f301c94004ad670d61035c9d7939135b428"

GAIT_FREQUENCY = 1.5  # Hz; trained within [1, 2]
# Hip pitch, hip roll, hip yaw, knee, ankle pitch, ankle roll; left then right (sai_mujoco's
# joint order too). booster_gym's T1.yaml.
DEFAULT_POSE = (-0.2, 0.0, 0.0, 0.4, -0.25, 0.0) * 2
KP = (200.0, 200.0, 200.0, 200.0, 50.0, 50.0) * 2
KD = (5.0, 5.0, 5.0, 5.0, 1.0, 1.0) * 2
JOINT_VELOCITY_SCALE = 0.1
# Below this the command counts as zero: the skill stands (phase frozen, its inputs 0).
STANDING_COMMAND = 1e-3


def load_skill_weights(path: Path | None = None) -> dict[str, Tensor]:
    """The skill's tensors (from the shipped SKILL_FILE unless `path` is given), after checking
    the file's SHA-256: a changed file is refused, not run (a walking policy that differs from
    the measured one could fall anywhere)."""
    path = path or SKILL_FILE
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(
            f"the walking skill's weights {path} cannot be read ({exc.strerror}); reinstall "
            "soccer-td3 (pip install -e .) to restore them"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SKILL_SHA256:
        raise UserError(
            f"the walking skill's weights {path} have SHA-256 {digest[:12]}..., not the shipped "
            f"{SKILL_SHA256[:12]}...; the file was altered: reinstall soccer-td3 to restore it"
        )
    return load_safetensors(data)


def skill_network() -> nn.Sequential:
    """The skill's MLP with the shipped weights (keys as torch.nn.Sequential's)."""
    net = nn.Sequential(
        nn.Linear(47, 256), nn.ELU(), nn.Linear(256, 128), nn.ELU(),
        nn.Linear(128, 128), nn.ELU(), nn.Linear(128, N_JOINTS),
    )  # fmt: skip
    net.load_state_dict(load_skill_weights())
    return net.eval().requires_grad_(False)


class WalkController(nn.Module):
    """Commands to normalised torques (torque / bound, in [-1, 1]) for B rows, one physics step
    a call. Rows whose `reset` flag is set start a fresh episode before acting."""

    def __init__(self, torque_bound: Tensor, rows: int = 1) -> None:
        super().__init__()
        self.net = RowByRow(skill_network())  # (skills/rows.py: the batch changes no bit)
        as_row = lambda values: torch.tensor(values, dtype=torch.float32)  # noqa: E731
        self.register_buffer("pose", as_row(DEFAULT_POSE))
        self.register_buffer("kp", as_row(KP))
        self.register_buffer("kd", as_row(KD))
        self.register_buffer("bound", torch.as_tensor(torque_bound, dtype=torch.float32))
        self.register_buffer("counter", torch.zeros(rows, dtype=torch.long))
        self.register_buffer("phase", torch.zeros(rows))
        self.register_buffer("last_output", torch.zeros(rows, N_JOINTS))
        self.register_buffer("target", self.pose.repeat(rows, 1))
        # TorchScript reads no module globals: the constants travel as attributes.
        self.n_joints = N_JOINTS
        self.skill_every = SKILL_EVERY
        self.phase_per_decision = SKILL_EVERY * PHYSICS_DT * GAIT_FREQUENCY
        self.velocity_scale = JOINT_VELOCITY_SCALE
        self.standing = STANDING_COMMAND

    def resize(self, rows: int) -> None:
        """A batch of another size: every row starts afresh (the SDK resets each new batch)."""
        self.counter = torch.zeros(rows, dtype=torch.long)
        self.phase = torch.zeros(rows)
        self.last_output = torch.zeros(rows, self.n_joints)
        self.target = self.pose.repeat(rows, 1)

    def reset_rows(self, reset: Tensor) -> None:
        keep = ~reset
        self.counter.mul_(keep.to(torch.long))
        self.phase.mul_(keep.to(torch.float32))
        self.last_output.mul_(keep.to(torch.float32).unsqueeze(1))
        pose = self.pose.expand_as(self.target)
        self.target.copy_(torch.where(keep.unsqueeze(1), self.target, pose))

    def skill_input(self, command: Tensor, joints: Tensor, gravity: Tensor, gyro: Tensor) -> Tensor:
        """The 47 inputs the skill was trained on (shared/skills/t1_walk/README.md)."""
        moving = (command.abs().amax(dim=1, keepdim=True) > self.standing).to(torch.float32)
        angle = 2.0 * math.pi * self.phase.unsqueeze(1)
        return torch.cat(
            [
                gravity,
                gyro,
                command,
                torch.cos(angle) * moving,
                torch.sin(angle) * moving,
                joints[:, : self.n_joints] - self.pose,
                joints[:, self.n_joints :] * self.velocity_scale,
                self.last_output,
            ],
            dim=1,
        )

    def decide(self, command: Tensor, joints: Tensor, gravity: Tensor, gyro: Tensor, due: Tensor):
        """The skill's step for the rows that are `due`: new targets, and the phase moved on by
        the SKILL_EVERY physics steps they hold for (the command is constant over them)."""
        output = self.net(self.skill_input(command, joints, gravity, gyro)).clamp(-1.0, 1.0)
        due_rows = due.unsqueeze(1)
        self.last_output.copy_(torch.where(due_rows, output, self.last_output))
        self.target.copy_(torch.where(due_rows, self.pose + output, self.target))
        moving = (command.abs().amax(dim=1) > self.standing).to(torch.float32)
        advance = self.phase_per_decision * moving * due.to(torch.float32)
        self.phase.copy_(torch.remainder(self.phase + advance, 1.0))

    def forward(
        self, command: Tensor, joints: Tensor, gravity: Tensor, gyro: Tensor, reset: Tensor
    ) -> Tensor:
        """One physics step for every row: `command` (B, 3) m/s, m/s, rad/s, which may change
        only on a multiple of SKILL_EVERY steps; `joints` (B, 24) positions then velocities;
        `gravity`, `gyro` (B, 3) in the torso frame; `reset` (B,) starts a row afresh."""
        if self.counter.shape[0] != command.shape[0]:
            self.resize(command.shape[0])
        if bool(reset.any()):
            self.reset_rows(reset)
        due = self.counter % self.skill_every == 0
        if bool(due.any()):
            self.decide(command, joints, gravity, gyro, due)
        q, q_dot = joints[:, : self.n_joints], joints[:, self.n_joints :]
        torque = pd_torque(self.target, q, q_dot, self.kp, self.kd)
        self.counter.add_(1)
        return normalised_torque(torque, self.bound)
