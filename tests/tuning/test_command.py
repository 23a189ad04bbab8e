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


def test_a_two_worker_sqlite_study_on_the_simulator_gives_a_trainable_best_config(
    tmp_path: Path, tiny_space: Path
):
    """Four trials queued before `tune --n-jobs 2` starts two workers on one SQLite file: each
    is claimed by one worker only (BEGIN IMMEDIATE), so four run folders, one per trial, none
    twice; each is scored at every evaluation, and the best config trains and resumes."""
    save_dir, url = tmp_path / "tune", f"sqlite:///{tmp_path / 'study.db'}"
    queued = optuna.create_study(storage=url, study_name="soccer-td3", direction="maximize")
    for batch_size in (32, 64) * 2:
        queued.enqueue_trial({"batch_size": batch_size}, skip_if_exists=False)
    command = tune_command(save_dir, "--storage", url, "--trials", "4", "--n-jobs", "2")
    result = subprocess.run(
        [*command, "--search-space", str(tiny_space)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert f"optuna-dashboard {url}" in result.stdout

    study = optuna.load_study(study_name="soccer-td3", storage=url)
    ran = [t for t in study.trials if not t.user_attrs.get("surplus")]
    # Both workers may ask for a trial when one queued trial is left: the later claim is a
    # surplus slot given back (FAIL, marked), never run.
    assert all(t.state == TrialState.FAIL for t in study.trials if t not in ran)
    assert [t.state for t in ran] == [TrialState.COMPLETE] * 4  # the four queued
    assert [t.params["batch_size"] for t in ran] == [32, 64] * 2
    folders = sorted(str(p.resolve()) for p in save_dir.glob("trial_*"))
    # One folder per trial (a trial run twice would leave a second, trial_N_1, folder).
    assert sorted(t.user_attrs["run_dir"] for t in ran) == folders
    for trial in ran:  # scored at each evaluation; the value is the last one
        assert sorted(trial.intermediate_values) == [100, 200]
        assert trial.value == trial.intermediate_values[200]
        run_dir = Path(trial.user_attrs["run_dir"])
        assert run_dir.parent == save_dir.resolve() and run_dir.name.startswith("trial_")
        assert (run_dir / "config.yaml").is_file() and (run_dir / "progress.csv").is_file()
        assert (run_dir / "checkpoints" / "latest").exists()
    with (save_dir / "trials.csv").open() as handle:
        assert [row["state"] for row in csv.DictReader(handle)].count("COMPLETE") == 4
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
