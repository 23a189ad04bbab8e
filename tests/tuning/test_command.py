import csv
import subprocess
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from soccer_td3.cli import main
from soccer_td3.config import build_config
from tests.cli_helpers import assert_one_line_error, soccer_td3
from tests.tuning.conftest import TINY, tune_command


def test_a_two_trial_sqlite_study_on_the_simulator_gives_a_trainable_best_config(
    tmp_path: Path, tiny_space: Path
):
    save_dir = tmp_path / "tune"
    command = tune_command(save_dir, "--trials", "2", "--n-jobs", "2")
    result = subprocess.run(
        [*command, "--search-space", str(tiny_space)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "optuna-dashboard sqlite:///" in result.stdout

    study = optuna.load_study(study_name="soccer-td3", storage=f"sqlite:///{save_dir}/study.db")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    for trial in study.trials:  # scored at each evaluation; the value is the last one
        assert sorted(trial.intermediate_values) == [100, 200]
        assert trial.value == trial.intermediate_values[200]
        run_dir = Path(trial.user_attrs["run_dir"])
        assert run_dir.parent == save_dir.resolve() and run_dir.name.startswith("trial_")
        assert (run_dir / "config.yaml").is_file() and (run_dir / "progress.csv").is_file()
        assert (run_dir / "checkpoints" / "latest").exists()
    with (save_dir / "trials.csv").open() as handle:
        assert [row["state"] for row in csv.DictReader(handle)] == ["COMPLETE"] * 2
    for plot in ("optimization_history.png", "param_importances.png"):
        assert (save_dir / plot).is_file(), result.stdout

    best = save_dir / "best_config.yaml"
    longer = tmp_path / "longer"
    train = ["train", "--config", str(best), "--timesteps", "150", "--save_dir", str(longer)]
    assert main(train) == 0
    trained = build_config(config_file=longer / "config.yaml")
    assert trained == build_config(config_file=best).replace(timesteps=150)

    best_run = Path(study.best_trial.user_attrs["run_dir"])  # a good trial, trained on
    assert main(["train", "--resume", str(best_run), "--timesteps", "300"]) == 0
    with (best_run / "progress.csv").open() as handle:
        assert [int(r["time/total_timesteps"]) for r in csv.DictReader(handle)] == [100, 200, 300]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--storage", "nonsense"], ["--storage 'nonsense' is not a database URL", "sqlite:///"]),
        (
            ["--storage", "postgresql://tuner:pw@127.0.0.1:1/study"],
            ["cannot open the study storage", "Connection refused", "tuner:***@"],
        ),
        (["--search-space", "SPACE"], ["unknown parameter 'lr'", "learning_rate, batch_size"]),
        (["--trials", "0"], ["--trials 0 must be a positive integer"]),
        (["--set", "learning_starts=500"], ["learning_starts 500", "--set learning_starts=N"]),
    ],
)
def test_bad_tune_input_is_one_line_and_writes_nothing(tmp_path: Path, args: list, words: list):
    space = tmp_path / "space.yaml"
    space.write_text("lr: {low: 1.0e-4, high: 1.0e-3}\n")
    args = [str(space) if a == "SPACE" else a for a in args]
    save_dir = tmp_path / "tune"
    result = soccer_td3("tune", "--save-dir", str(save_dir), *TINY, *args)
    assert_one_line_error(result, *words)
    assert not save_dir.exists()


def test_default_space_that_cannot_fit_the_base_settings_is_one_line(tmp_path):
    # batch sizes up to 512 in the default space, a buffer of 256: refused before any trial.
    result = soccer_td3(
        "tune", "--save-dir", str(tmp_path / "t"), "--trials", "1",
        "--timesteps-per-trial", "300", "--set", "learning_starts=100", "--set", "buffer_size=256",
    )  # fmt: skip
    assert_one_line_error(result, "default search space", "batch_size")
    assert not (tmp_path / "t" / "study.db").exists()
