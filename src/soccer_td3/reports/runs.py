"""A finished (or interrupted) run folder as the numbers a report needs, read from its files.

Reports read only what training already writes (config.yaml, progress.csv), so any run, from
`compare` or from a plain `train`, can be put in a report later without retraining.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from soccer_td3.config import PRESETS, TrainConfig, build_config
from soccer_td3.errors import UserError
from soccer_td3.training.metrics import STEP_KEY, TIME_KEY, read_log


@dataclass(frozen=True)
class EvalPoint:
    step: int
    seconds: float  # wall-clock since the run started (time/time_elapsed of that row)
    mean_reward: float
    mean_score: float


@dataclass(frozen=True)
class RunResult:
    path: Path
    config: TrainConfig
    curve: list[EvalPoint]
    steps: int
    seconds: float
    finished: bool
    label: str | None = None  # the preset a comparison ran it as; else worked out from config

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("nan")

    @property
    def parameters(self) -> int:
        """Trainable weights of the actor plus both critics."""
        from soccer_td3.training.loop import template_networks

        return sum(p.numel() for net in template_networks(self.config) for p in net.parameters())


# Settings a preset may set that size or pace a run rather than define its recipe.
BUDGET_KEYS = {
    "learning_starts", "max_minutes", "eval_freq", "eval_episodes", "checkpoint_freq",
    "log_interval",
}  # fmt: skip


def preset_of(config: TrainConfig) -> str:
    """The preset a config was built from, matched on every setting any preset sets; else the
    nearest preset and what differs from it (`baseline + learning_rate=0.0005`).
    The run's budget and cadence (BUDGET_KEYS) are left out: compare and short runs set them
    for every preset alike, and they are not the recipe a label should name."""
    values, defaults = config.flat(), TrainConfig().flat()
    recipe = {key for overrides in PRESETS.values() for key in overrides} - BUDGET_KEYS
    keys = sorted(recipe)
    best_name, best_diff = "", keys
    for name, overrides in PRESETS.items():
        diff = [k for k in keys if values[k] != overrides.get(k, defaults[k])]
        if len(diff) < len(best_diff):
            best_name, best_diff = name, diff
    if not best_diff:
        return best_name
    return f"{best_name} + " + ", ".join(f"{k}={values[k]}" for k in best_diff)


def _float(row: dict[str, str], key: str) -> float | None:
    text = row.get(key, "")
    return float(text) if text not in ("", None) else None


def load_run(folder: Path) -> RunResult:
    config_file, progress = folder / "config.yaml", folder / "progress.csv"
    if not config_file.is_file():
        raise UserError(
            f"{folder} is not a run folder (it has no config.yaml); pass the folders "
            "`soccer-td3 train` or `compare` wrote"
        )
    config = build_config(config_file=config_file)
    rows = []
    if progress.is_file():  # absent until the first metrics row: a run stopped early
        columns, lines, _ = read_log(progress, increasing=True)  # a cut-short last row: dropped
        rows = [dict(zip(columns, line, strict=True)) for line in lines]
    curve = []
    for row in rows:
        reward, score = _float(row, "eval/mean_reward"), _float(row, "eval/mean_score")
        if reward is not None and score is not None:
            step, seconds = int(float(row[STEP_KEY])), _float(row, TIME_KEY) or 0.0
            curve.append(EvalPoint(step, seconds, reward, score))
    last = rows[-1] if rows else {}
    return RunResult(
        path=folder,
        config=config,
        curve=curve,
        steps=int(float(last.get(STEP_KEY) or 0)),
        seconds=_float(last, TIME_KEY) or 0.0,
        finished=(folder / "final").is_dir(),
    )


def find_runs(paths: list[Path]) -> list[RunResult]:
    """Each path is a run folder or a folder holding run folders (a comparison), at any depth.
    Runs keep the order given; a comparison's runs come in its presets' order, named after
    them. Folders a comparison set aside (runs that died before a checkpoint) are skipped."""
    from soccer_td3.reports.compare import SET_ASIDE, ComparePlan

    found: list[Path] = []
    labels: dict[Path, str] = {}
    for path in paths:
        if not path.is_dir():
            raise UserError(f"{path} does not exist; pass run folders or a comparison folder")
        if (path / "config.yaml").is_file():
            found.append(path)
        elif (plan := ComparePlan.recorded(path)) is not None:
            labels.update(
                {
                    r.folder: r.preset
                    for r in plan.runs(path)
                    if (r.folder / "config.yaml").is_file()
                }
            )
            found.extend(r.folder for r in plan.runs(path) if r.folder in labels)
        else:
            found.extend(
                sorted(
                    p.parent
                    for p in path.rglob("config.yaml")
                    if not any(SET_ASIDE in part for part in p.parent.parts)
                )
            )
    runs = [replace(load_run(p), label=labels.get(p)) for p in dict.fromkeys(found)]
    if not runs:
        raise UserError(f"no run folders (with config.yaml) under {', '.join(map(str, paths))}")
    return runs
