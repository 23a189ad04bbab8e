import json
import math
from pathlib import Path

from tests.cli_helpers import assert_one_line_error, soccer_td3


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
        assert_one_line_error(soccer_td3("evaluate", *args), words)


def test_save_dir_names_the_folder_of_eval_json(two_task_run: Path, tmp_path: Path):
    out = tmp_path / "results"
    out.mkdir()
    result = soccer_td3("evaluate", str(two_task_run), "--episodes", "1", "--save-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert len(json.loads((out / "eval.json").read_text())) == 2
