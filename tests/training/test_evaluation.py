"""The "played through" line names the way a trained actor's action reaches the joints."""

import dataclasses

from soccer_td3.envs.control import ControlSpec
from soccer_td3.training.evaluation import ACTOR_PATH, actor_path


def spec(control: str) -> ControlSpec:
    return ControlSpec(
        control=control, decimation=50, kp=(1.0,), kd=(1.0,), pose=(0.0,), action_scale=1.0,
        balance=(0.0, 0.0), command_low=(-0.5, -0.5, -1.0), command_high=(1.0, 0.5, 1.0),
        prior="none",
    )  # fmt: skip


def test_each_control_mode_names_its_own_path():
    assert actor_path(None) == ACTOR_PATH  # the seed's torques
    assert actor_path(dataclasses.replace(spec("torque"), decimation=10)) == ACTOR_PATH
    assert "PD joint targets" in actor_path(spec("pd"))
    command = actor_path(spec("command"))
    assert "walking skill" in command and "rescaled to the bounds" not in command
