"""What a study leaves in save_dir: best_config.yaml, trials.csv and Optuna's standard plots.

Everything is read from the study's database, so any worker on any machine writes the same
files; the best config comes from the trial's recorded `config`, not from its run folder, which
may be on another machine.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from soccer_td3.config import TrainConfig
from soccer_td3.files import atomic_path, write_text

BEST_CONFIG = "best_config.yaml"
TRIALS_TABLE = "trials.csv"
PLOTS = ("optimization_history", "param_importances")
TARGET = "eval/mean_score"  # the objective's name on the plots


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(complete, key=lambda t: t.value) if complete else None


def write_best_config(study: optuna.Study, trial: FrozenTrial, path: Path) -> None:
    """The best trial's whole TrainConfig, as its run folder's config.yaml holds it."""
    config = TrainConfig(**trial.user_attrs["config"])
    header = (
        f"# Best trial {trial.number} of study {study.study_name!r}: eval/mean_score "
        f"{trial.value:.4f} after {config.run.timesteps} steps "
        f"({trial.user_attrs.get('run_dir')}).\n"
        f"# Train it longer: soccer-td3 train --config {path.name} --timesteps 5000000\n"
    )
    write_text(path, header + yaml.safe_dump(config.model_dump(), sort_keys=False))


def _retries(trials: list[FrozenTrial]) -> dict[int, int]:
    """Failed trial number -> the trial that retried it. RetryHeartbeatStaleTrialCallback
    records the chain in the retry's system attribute `retry_history`."""
    retried_as = {}
    for trial in trials:
        history = trial.system_attrs.get("retry_history") or []
        if history:
            retried_as[history[-1]] = trial.number
    return retried_as


def trial_rows(trials: list[FrozenTrial]) -> list[dict[str, Any]]:
    retried_as = _retries(trials)
    rows = []
    for trial in sorted(trials, key=lambda t: t.number):
        duration = trial.duration.total_seconds() if trial.duration is not None else None
        note = ""
        if trial.user_attrs.get("surplus"):
            note = "surplus: the study had its trials; slot given back"
        elif trial.number in retried_as:
            note = f"worker died or was stopped; retried as trial {retried_as[trial.number]}"
        elif trial.system_attrs.get("failed_trial") is not None:
            note = f"retry of trial {trial.system_attrs['failed_trial']}"
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value if trial.value is not None else "",
                "last_step": trial.last_step if trial.last_step is not None else "",
                **{name: value for name, value in sorted(trial.params.items())},
                "duration_s": round(duration, 1) if duration is not None else "",
                "host": trial.user_attrs.get("host", ""),
                "run_dir": trial.user_attrs.get("run_dir", ""),
                "note": note,
            }
        )
    return rows


def write_trials_table(trials: list[FrozenTrial], path: Path) -> None:
    rows = trial_rows(trials)
    fields: list[str] = []
    for row in rows:
        fields += [key for key in row if key not in fields]
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields or ["number"], restval="")
        writer.writeheader()
        writer.writerows(rows)


def write_plots(study: optuna.Study, save_dir: Path) -> list[str]:
    """PNG always (matplotlib), HTML too when plotly is installed; returns notes to print.

    Parameter importances (fANOVA) need two complete trials and a parameter that varied; a
    study short of that gets a note, not a crash."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plt

    notes = []
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if complete == 0:
        return ["no complete trial to plot yet"]
    makers = {"optimization_history": "plot_optimization_history"}
    if complete >= 2:
        makers["param_importances"] = "plot_param_importances"
    else:
        notes.append(f"param importances need 2 complete trials (the study has {complete})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        for name, maker in list(makers.items()):
            try:
                axes = getattr(optuna_plt, maker)(study, target_name=TARGET)
            except (ValueError, RuntimeError) as exc:
                notes.append(f"{name} skipped: {exc}")
                del makers[name]
                continue
            axes.figure.savefig(save_dir / f"{name}.png", dpi=100, bbox_inches="tight")
            plt.close(axes.figure)
        if optuna.visualization.is_available():
            for name, maker in makers.items():
                figure = getattr(optuna.visualization, maker)(study, target_name=TARGET)
                figure.write_html(save_dir / f"{name}.html")
        else:
            notes.append("HTML plots need plotly (pip install plotly); wrote PNGs only")
    return notes


def write_outputs(study: optuna.Study, save_dir: Path) -> list[str]:
    """Writes the files; returns the lines that tell the user what is where."""
    trials = study.get_trials(deepcopy=False)
    counts = {state: sum(t.state == state for t in trials) for state in TrialState}
    summary = (
        f"study {study.study_name!r}: {counts[TrialState.COMPLETE]} complete, "
        f"{counts[TrialState.PRUNED]} pruned, {counts[TrialState.FAIL]} failed"
    )
    if counts[TrialState.WAITING]:
        summary += f", {counts[TrialState.WAITING]} queued (run tune again to finish them)"
    lines = [summary]
    write_trials_table(trials, save_dir / TRIALS_TABLE)
    best = best_trial(study)
    if best is None:
        lines.append("no complete trial yet: no best config")
    else:
        path = save_dir / BEST_CONFIG
        write_best_config(study, best, path)
        lines.append(f"best: trial {best.number}, mean_score {best.value:.4f}, {best.params}")
        lines.append(f"  config: {path}  (soccer-td3 train --config {path} --timesteps ...)")
        run_dir = Path(best.user_attrs.get("run_dir", ""))
        if (run_dir / "checkpoints").is_dir():
            lines.append(f"  continue its run: soccer-td3 train --resume {run_dir} --timesteps ...")
    lines.append(f"trials: {save_dir / TRIALS_TABLE}")
    notes = write_plots(study, save_dir)
    written = sorted(p.name for p in save_dir.iterdir() if p.stem in PLOTS)
    lines.append(f"plots: {', '.join(written) or 'none'} in {save_dir}")
    lines += [f"  note: {note}" for note in notes]
    return lines
