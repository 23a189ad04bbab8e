"""The walking skill in the real simulator: it walks on a command, stands on none, and refuses
a weight file that is not the shipped one."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from soccer_td3.config import TrainConfig
from soccer_td3.envs.command import CommandControl, to_action
from soccer_td3.envs.registry import make_env
from soccer_td3.errors import UserError
from soccer_td3.skills import walk
from soccer_td3.skills.walk import SKILL_FILE, WalkController, load_skill_weights
from tests.cli_helpers import assert_one_line_error

GOALIE = "LowerT1GoaliePenaltyKick-v0"


def robot_xy(info) -> np.ndarray:
    """World position from the offset to goal_team_0, which sits at (-length, 0)."""
    return np.array([-info["length"], 0.0]) - np.asarray(info["goal_team_0_rel_robot"][:2])


def hold_command(command, seconds: float = 10.0):
    """Play one goalie episode holding `command` (forward, left, yaw rate); returns the first
    and last info and whether the episode ended before `seconds`."""
    spec = TrainConfig(control="command").environment.control_spec
    env = CommandControl(make_env(GOALIE), spec, GOALIE)
    low, high = torch.tensor(spec.command_low), torch.tensor(spec.command_high)
    action = to_action(torch.tensor([command], dtype=torch.float32), low, high)[0].numpy()
    _, first = env.reset(seed=0)
    steps = 0
    while steps < seconds * 500:
        _, _, terminated, truncated, info = env.step(action)
        steps += info["env_steps"]
        if terminated or truncated:
            break
    env.close()
    return first, info, bool(terminated)


def test_the_skill_walks_half_a_metre_a_second_for_ten_seconds_without_falling():
    first, last, terminated = hold_command((0.5, 0.0, 0.0))
    assert not terminated and not last["reward_terms"]["robot_fallen"]
    assert np.linalg.norm(robot_xy(last) - robot_xy(first)) >= 3.0


def test_the_zero_command_stands_ten_seconds_in_place():
    first, last, terminated = hold_command((0.0, 0.0, 0.0))
    assert not terminated and not last["reward_terms"]["robot_fallen"]
    assert np.linalg.norm(robot_xy(last) - robot_xy(first)) < 0.2


def test_a_turn_command_turns_the_robot():
    """Yaw rate 0.5 rad/s for 2 s turns the torso by about 1 rad (measured 0.53 rad/s)."""
    first, last, _ = hold_command((0.0, 0.0, 0.5), seconds=2.0)

    def yaw(info):
        x, y, z, w = info["robot_quat"]
        return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))

    turned = np.angle(np.exp(1j * (yaw(last) - yaw(first))))
    assert 0.6 < turned < 1.4


def test_the_skill_file_is_checked_against_its_sha256(tmp_path):
    load_skill_weights()  # the shipped file passes
    altered = tmp_path / "t1_walk.safetensors"
    shutil.copy(SKILL_FILE, altered)
    data = bytearray(altered.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    altered.write_bytes(bytes(data))
    with pytest.raises(UserError, match="altered"):
        load_skill_weights(altered)
    with pytest.raises(UserError, match="cannot be read"):
        load_skill_weights(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_the_cli_stops_with_one_line_when_the_shipped_skill_is_damaged(tmp_path, damage):
    """The real CLI in a subprocess whose package file is a damaged copy: exit 2, one line."""
    altered = tmp_path / "t1_walk.safetensors"
    if damage == "truncated":
        altered.write_bytes(SKILL_FILE.read_bytes()[:-4])
    code = (
        "import sys; from pathlib import Path; import soccer_td3.skills.walk as walk; "
        f"walk.SKILL_FILE = Path({str(altered)!r}); from soccer_td3.cli import main; "
        "sys.argv = ['soccer-td3', 'evaluate', '--policy', 'stand', '--env', "
        f"'{GOALIE}', '--episodes', '1', '--save-dir', {str(tmp_path)!r}]; sys.exit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    words = ("altered", "reinstall") if damage == "truncated" else ("cannot be read", "reinstall")
    assert_one_line_error(result, *words)
    assert not (tmp_path / "eval_stand.json").exists()


def test_the_controller_builds_on_the_shipped_file_and_refuses_another(tmp_path, monkeypatch):
    WalkController(torch.ones(12))
    altered = tmp_path / "t1_walk.safetensors"
    altered.write_bytes(SKILL_FILE.read_bytes()[:-4])
    monkeypatch.setattr(walk, "SKILL_FILE", altered)
    with pytest.raises(UserError, match="altered"):
        WalkController(torch.ones(12))


def test_a_reset_row_starts_afresh_while_the_others_keep_their_gait():
    controller = WalkController(torch.full((12,), 50.0), rows=2)
    command = torch.tensor([[0.5, 0.0, 0.0], [0.5, 0.0, 0.0]])
    joints, gyro = torch.zeros(2, 24), torch.zeros(2, 3)
    gravity = torch.tensor([[0.0, 0.0, -1.0]] * 2)
    for _ in range(25):
        controller(command, joints, gravity, gyro, torch.tensor([False, False]))
    phase = controller.phase.clone()
    assert (phase > 0).all()
    controller(command, joints, gravity, gyro, torch.tensor([True, False]))
    assert controller.counter.tolist() == [1, 26]
    assert controller.phase[0] > 0 and controller.phase[1] == phase[1]  # row 0 decided afresh
    assert controller.phase[0] < phase[1]


def test_the_skill_input_follows_the_published_layout():
    """gravity, gyro, command, cos/sin of the phase (0 standing), q - pose, 0.1 q_dot, last."""
    controller = WalkController(torch.ones(12))
    joints = torch.arange(24, dtype=torch.float32).unsqueeze(0)
    gravity, gyro = torch.tensor([[0.1, 0.2, -0.9]]), torch.tensor([[1.0, 2.0, 3.0]])
    standing = controller.skill_input(torch.zeros(1, 3), joints, gravity, gyro)[0]
    moving = controller.skill_input(torch.tensor([[0.5, 0.0, 0.0]]), joints, gravity, gyro)[0]
    assert standing.shape == (47,)
    assert torch.equal(standing[0:3], gravity[0]) and torch.equal(standing[3:6], gyro[0])
    assert standing[9:11].tolist() == [0.0, 0.0] and moving[9:11].tolist() == [1.0, 0.0]
    assert torch.allclose(standing[11:23], joints[0, :12] - controller.pose)
    assert torch.allclose(standing[23:35], 0.1 * joints[0, 12:])
