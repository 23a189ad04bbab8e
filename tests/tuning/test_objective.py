from pathlib import Path

import optuna
from optuna.trial import TrialState
from rich.console import Console

from soccer_td3.config import build_config
from soccer_td3.tuning.objective import TrialObjective
from soccer_td3.tuning.space import DEFAULT_SPACE, Param
from tests.conftest import tiny

SMALL = DEFAULT_SPACE | {"net": Param("fixed", value="64,64")}


def run_one_trial(study: optuna.Study, space, save_dir: Path) -> optuna.trial.FrozenTrial:
    base = tiny(timesteps=300, eval_freq=100, eval_episodes=1)
    objective = TrialObjective(base, space, save_dir, Console(quiet=True))
    study.optimize(objective, n_trials=1)
    return study.trials[-1]


def test_the_pruner_stops_a_trial_at_an_evaluation(tmp_path: Path):
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(1e9))
    trial = run_one_trial(study, SMALL, tmp_path)
    assert trial.state == TrialState.PRUNED
    assert list(trial.intermediate_values) == [100]  # its first look, then no more training
    run_dir = tmp_path / "trial_0"
    assert not (run_dir / "final").exists()
    config = build_config(config_file=run_dir / "config.yaml")
    assert config.flat(mode="json") == trial.user_attrs["config"]
    assert config.networks.actor_net == [64, 64]
    assert config.td3.learning_rate == trial.params["learning_rate"]


def test_a_trial_whose_losses_go_non_finite_is_pruned_not_failed(tmp_path: Path):
    study = optuna.create_study(direction="maximize")
    trial = run_one_trial(study, SMALL | {"learning_rate": Param("fixed", value=1e6)}, tmp_path)
    assert trial.state == TrialState.PRUNED
    assert "[non_finite]" in (tmp_path / "trial_0" / "redflags.log").read_text()
