import subprocess
import sys
from pathlib import Path

import imageio.v2 as iio

from soccer_td3.training.loop import train
from tests.conftest import tiny


def test_a_video_of_a_real_episode_decodes(tmp_path: Path):
    train(tiny(timesteps=200, actor_net=[32], critic_net=[32]), tmp_path / "run")
    video = tmp_path / "eval.mp4"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "soccer_td3",
            "evaluate",
            str(tmp_path / "run"),
            "--episodes",
            "1",
            "--video",
            str(video),
            "--video-seconds",
            "0.4",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    frames = list(iio.get_reader(str(video)).iter_data())  # (len() of the reader is inf)
    assert len(frames) == 10  # 0.4 s at 25 fps
    assert frames[0].shape == (270, 480, 3)
    assert frames[0].std() > 10  # a rendered scene, not a blank frame
    gif = iio.mimread(str(tmp_path / "eval.gif"))
    assert len(gif) == 10 and gif[0].shape[:2] == (135, 240)


def test_a_scripted_chaser_video_shows_one_frame_per_command_decision(tmp_path: Path):
    """Command control decides every 0.1 s: the clip has a frame per decision, at 10 fps."""
    video = tmp_path / "chaser.mp4"
    result = subprocess.run(
        [
            sys.executable, "-m", "soccer_td3", "evaluate", "--policy", "chaser",
            "--env", "LowerT1GoaliePenaltyKick-v0", "--episodes", "1", "--video", str(video),
            "--video-seconds", "0.8", "--save-dir", str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reader = iio.get_reader(str(video))
    frames = list(reader.iter_data())
    assert len(frames) == 8 and reader.get_meta_data()["fps"] == 10
    assert frames[-1].std() > 10 and not (frames[0] == frames[-1]).all()  # the robot moved
