"""The whole command-control hierarchy as one TorchScript module: what a submission runs.

The SAI platform calls the model once per env step (500 Hz) with a batch of preprocessed rows
(envs/commander.py's model_input: the commander's vector, then the skill's inputs) and maps its
output from [-1, 1] onto the torque bounds. So the model itself keeps each row's state and
plays the same chain as training's CommandControl wrapper:

    every `period` steps: command = commander(features)   (TD3 actor, plus the prior)
    every 10 steps:        joint targets = walking skill(command, ...)
    every step:            normalised torque = PD(targets) / bound

A row starts afresh when its joints read exactly zero: sai_mujoco resets every joint to 0, a
robot in play never holds them all there, and the SDK's all-zero check observation is then a
reset too. A batch of another size (the SDK's next batch) starts every row afresh.

The commander (actor + prior) is traced; the stateful part is scripted, since its branches
depend on each row's counter. Each row's networks run on that row alone, so a batched
submission plays each episode exactly as `soccer-td3 evaluate` plays it one env at a time.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from soccer_td3.agent.networks import Actor
from soccer_td3.envs.command import prior_action, to_command
from soccer_td3.envs.commander import COMMANDER_SIZE, SKILL_SLICES
from soccer_td3.envs.control import ControlSpec
from soccer_td3.skills.walk import WalkController


class Commander(nn.Module):
    """Commander features -> command (m/s, m/s, rad/s): the actor's action added to the
    prior's, clipped, mapped onto the command range, as CommandControl does."""

    def __init__(self, actor: Actor, control: ControlSpec) -> None:
        super().__init__()
        self.actor = copy.deepcopy(actor).cpu().eval()
        self.prior = control.prior
        self.register_buffer("low", torch.tensor(control.command_low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(control.command_high, dtype=torch.float32))

    def forward(self, features: Tensor) -> Tensor:
        action = self.actor(features) + prior_action(self.prior, features, self.low, self.high)
        return to_command(action, self.low, self.high)


class HierarchyPolicy(nn.Module):
    """Model input rows (B, MODEL_INPUT_SIZE) -> normalised torques (B, 12), one env step."""

    def __init__(self, commander: nn.Module, controller: WalkController, period: int) -> None:
        super().__init__()
        self.commander = commander
        self.controller = controller
        self.period = period
        self.register_buffer("command", torch.zeros(1, 3))
        self.joints = (SKILL_SLICES["joints"].start, SKILL_SLICES["joints"].stop)
        self.gravity = (SKILL_SLICES["gravity"].start, SKILL_SLICES["gravity"].stop)
        self.gyro = (SKILL_SLICES["gyro"].start, SKILL_SLICES["gyro"].stop)
        self.features = COMMANDER_SIZE

    def forward(self, rows: Tensor) -> Tensor:
        joints = rows[:, self.joints[0] : self.joints[1]]
        reset = (joints == 0).all(dim=1)
        if self.command.shape[0] != rows.shape[0]:
            self.command = torch.zeros(rows.shape[0], 3)
            self.controller.resize(rows.shape[0])
        if bool(reset.any()):
            self.controller.reset_rows(reset)
        due = (self.controller.counter % self.period == 0).unsqueeze(1)
        if bool(due.any()):
            features = rows[:, : self.features]
            decided = torch.cat([self.commander(features[i : i + 1]) for i in range(rows.shape[0])])
            self.command = torch.where(due, decided, self.command)
        no_reset = torch.zeros_like(reset)  # rows were reset above, before the decision
        return self.controller(
            self.command,
            joints,
            rows[:, self.gravity[0] : self.gravity[1]],
            rows[:, self.gyro[0] : self.gyro[1]],
            no_reset,
        )


def hierarchy_module(actor: Actor, control: ControlSpec, torque_bound) -> torch.jit.ScriptModule:
    """The submission's TorchScript module for a command-control actor."""
    commander = Commander(actor, control).eval()
    with torch.no_grad():
        traced = torch.jit.trace(commander, torch.zeros(1, COMMANDER_SIZE))
    controller = WalkController(torch.as_tensor(torque_bound, dtype=torch.float32))
    return torch.jit.script(HierarchyPolicy(traced, controller, control.decimation).eval())
