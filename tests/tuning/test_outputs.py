import csv
from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from soccer_td3.config import TrainConfig, build_config
from soccer_td3.tuning.outputs import write_outputs
from tests.conftest import tiny

DISTRIBUTIONS = {
    "learning_rate": FloatDistribution(1e-5, 1e-3, log=True),
    "net": CategoricalDistribution(["baseline", "balanced"]),
}


def finished_trial(value: float | None, lr: float, net: str, state=TrialState.COMPLETE, **system):
    config = tiny(learning_rate=lr, actor_net=[64], critic_net=[64])
    return optuna.create_trial(
        state=state,
        value=value,
        params={"learning_rate": lr, "net": net},
        distributions=DISTRIBUTIONS,
        user_attrs={"config": config.flat(mode="json"), "run_dir": f"/runs/{lr}"},
        system_attrs=system,
    )


def study_of(*trials) -> optuna.Study:
    study = optuna.create_study(study_name="s", direction="maximize")
    for trial in trials:
        study.add_trial(trial)
    return study


def read_table(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_the_best_trials_whole_config_is_a_train_config_file(tmp_path: Path):
    study = study_of(
        finished_trial(-2.4, 1e-4, "baseline"),
        finished_trial(-1.0, 3e-4, "balanced"),
        finished_trial(-2.0, 5e-4, "baseline"),
    )
    lines = write_outputs(study, tmp_path)
    loaded = build_config(config_file=tmp_path / "best_config.yaml")
    assert loaded == TrainConfig(**study.trials[1].user_attrs["config"])
    assert loaded.td3.learning_rate == 3e-4
    assert "best: trial 1, mean_score -1.0000" in "\n".join(lines)
    for plot in ("optimization_history.png", "param_importances.png"):
        assert (tmp_path / plot).stat().st_size > 1000, plot


def test_the_trials_table_tells_failed_retried_and_surplus_trials_apart(tmp_path: Path):
    study = study_of(
        finished_trial(None, 1e-4, "baseline", state=TrialState.FAIL),
        finished_trial(-2.0, 2e-4, "balanced"),
        finished_trial(-1.5, 1e-4, "baseline", failed_trial=0, retry_history=[0]),
        finished_trial(-1.7, 1e-4, "baseline", state=TrialState.PRUNED),
    )
    surplus = study.ask()
    surplus.set_user_attr("surplus", True)
    study.tell(surplus, state=TrialState.FAIL)
    write_outputs(study, tmp_path)
    rows = read_table(tmp_path / "trials.csv")
    assert [(r["number"], r["state"]) for r in rows] == [
        ("0", "FAIL"),
        ("1", "COMPLETE"),
        ("2", "COMPLETE"),
        ("3", "PRUNED"),
        ("4", "FAIL"),
    ]
    assert rows[0]["note"] == "worker died or was stopped; retried as trial 2"
    assert rows[2]["note"] == "retry of trial 0"
    assert rows[4]["note"].startswith("surplus")
    assert rows[1]["learning_rate"] == "0.0002" and rows[1]["net"] == "balanced"
    assert rows[1]["run_dir"] == "/runs/0.0002"


def test_a_study_too_small_for_importances_gets_notes_not_a_crash(tmp_path: Path):
    lines = write_outputs(study_of(finished_trial(-2.0, 1e-4, "baseline")), tmp_path)
    assert "param importances need 2 complete trials (the study has 1)" in "\n".join(lines)
    assert (tmp_path / "optimization_history.png").is_file()
    assert not (tmp_path / "param_importances.png").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    lines = write_outputs(study_of(), empty)
    assert "no complete trial yet: no best config" in lines
    assert not (empty / "best_config.yaml").exists() and (empty / "trials.csv").is_file()
    assert "  note: no complete trial to plot yet" in lines
