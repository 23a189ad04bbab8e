import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from soccer_td3.training.loop import train


@pytest.fixture(scope="module")
def two_task_run(tmp_path_factory):
    from soccer_td3.config import TrainConfig

    run = tmp_path_factory.mktemp("eval") / "run"
    config = TrainConfig(
        env=["LowerT1GoaliePenaltyKick-v0", "LowerT1KickToTarget-v0"],
        timesteps=300,
        learning_starts=100,
        batch_size=32,
        log_interval=100,
        actor_net=[64, 64],
        critic_net=[64, 64],
        device="cpu",
    )
    train(config, run)
    return run


def soccer_td3(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "soccer_td3", *args], capture_output=True, text=True, timeout=300
    )


def test_two_tasks_two_episodes_give_a_table_and_json(two_task_run: Path):
    result = soccer_td3("evaluate", str(two_task_run), "--episodes", "2")
    assert result.returncode == 0, result.stderr
    assert "LowerT1KickToTarget-v0" in result.stdout and "score" in result.stdout
    assert "same state whatever the seed" in result.stdout  # goalie: said, not hidden
    rows = json.loads((two_task_run / "eval.json").read_text())
    assert [r["task"] for r in rows] == ["LowerT1GoaliePenaltyKick-v0", "LowerT1KickToTarget-v0"]
    for row in rows:
        assert row["episodes"] == 2
        for key in ("return_mean", "return_std", "length_mean", "score_mean", "success_rate"):
            assert math.isfinite(row[key]), key
    goalie = rows[0]
    assert goalie["independent_episodes"] is False and goalie["return_std"] == 0.0


def test_no_weights_or_wrong_size_is_one_line_exit_2(two_task_run: Path, tmp_path: Path):
    for args, words in (
        ([str(tmp_path)], "no weights at"),
        ([str(two_task_run), "--env", "T1KickToTarget-v0"], "obs 90 -> action 12"),
    ):
        result = soccer_td3("evaluate", *args)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr
