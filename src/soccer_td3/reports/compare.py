"""`soccer-td3 compare`: presets x seeds as ordinary runs, in parallel, resumable, then a report.

Each run is a `soccer-td3 train` child process (its own folder, logs and checkpoints, so any run
can be inspected, resumed or trained longer alone). Children are pinned to disjoint cores:
two runs sharing a core each would run at less than half speed and make steps/s meaningless.
Running the same command again resumes: finished runs are kept, interrupted ones continue from
their last checkpoint, and the report is rebuilt from all of them.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from soccer_td3.config import PRESETS, build_config
from soccer_td3.cores import core_slots, pin
from soccer_td3.errors import UserError
from soccer_td3.files import read_text, write_text
from soccer_td3.training.checkpoint import has_checkpoint
from soccer_td3.training.metrics import STEP_KEY, TIME_KEY
from soccer_td3.training.run_dir import writable_dir
from soccer_td3.training.signals import StopOnSignal

PLAN_FILE = "compare.yaml"
SET_ASIDE = ".incomplete"  # suffix of a run folder that died before its first checkpoint


@dataclass(frozen=True)
class PlannedRun:
    preset: str
    seed: int
    folder: Path

    @property
    def name(self) -> str:
        return f"{self.preset} seed {self.seed}"

    def finished(self) -> bool:
        return (self.folder / "final").is_dir()

    def resumable(self) -> bool:
        return not self.finished() and has_checkpoint(self.folder)

    def fraction_done(self, timesteps: int, max_minutes: float | None) -> float:
        """How far the run is, 0 to 1: the progress bar's measure. Its last logged step over
        `timesteps`, or, with a wall-clock budget, its time over the budget when that is
        further (a budget run ends long before its timesteps)."""
        if self.finished():
            return 1.0
        progress = self.folder / "progress.csv"
        if not progress.is_file():
            return 0.0
        with progress.open(newline="") as handle:
            last = next(reversed(list(csv.DictReader(handle))), {})
        try:
            done = float(last.get(STEP_KEY) or 0) / timesteps
            if max_minutes:
                done = max(done, float(last.get(TIME_KEY) or 0) / (max_minutes * 60))
        except ValueError:  # a row being written
            return 0.0
        return min(done, 1.0)


@dataclass(frozen=True)
class ComparePlan:
    presets: list[str]
    seeds: int
    settings: dict[str, Any]  # TrainConfig overrides shared by every run (env, timesteps, ...)

    def runs(self, out: Path) -> list[PlannedRun]:
        return [
            PlannedRun(preset, seed, out / preset / f"seed{seed}")
            for preset in self.presets
            for seed in range(self.seeds)
        ]

    def as_dict(self) -> dict[str, Any]:
        return {"presets": self.presets, "seeds": self.seeds, "settings": self.settings}

    @classmethod
    def recorded(cls, out: Path) -> ComparePlan | None:
        """The plan a comparison folder was made with, if it is one."""
        path = out / PLAN_FILE
        if not path.is_file():
            return None
        try:
            data = yaml.safe_load(read_text(path, "comparison plan", "remove the folder"))
            return cls(data["presets"], data["seeds"], data["settings"])
        except (yaml.YAMLError, TypeError, KeyError):
            raise UserError(
                f"{path} is damaged (it records the comparison's presets, seeds and settings); "
                "restore it or start the comparison in a new --save-dir"
            ) from None


def validate(plan: ComparePlan) -> None:
    """Every run's config, built now: bad input fails before any run starts."""
    if plan.seeds <= 0:
        raise UserError(f"--seeds {plan.seeds} must be at least 1")
    if not plan.presets:
        raise UserError(f"name at least one preset: {', '.join(PRESETS)}")
    for preset in plan.presets:
        build_config(preset, None, {**plan.settings, "seed": 0})


def record_plan(plan: ComparePlan, out: Path) -> None:
    """Write the plan, or check a resumed comparison asks for the same one."""
    recorded = ComparePlan.recorded(out)
    if recorded is not None:
        if recorded != plan:
            raise UserError(
                f"{out} holds a comparison with other settings ({out / PLAN_FILE}); rerun it "
                "with the same flags to resume, or pass another --save-dir"
            )
        return
    writable_dir(out, "--save-dir")
    write_text(out / PLAN_FILE, yaml.safe_dump(plan.as_dict(), sort_keys=False))


def train_command(run: PlannedRun, plan: ComparePlan) -> list[str]:
    base = [sys.executable, "-m", "soccer_td3", "train"]
    if run.resumable():  # interrupted: continue it exactly
        return [*base, "--resume", str(run.folder)]
    sets = [f"{key}={json.dumps(value)}" for key, value in plan.settings.items()]
    return [
        *base,
        "--preset",
        run.preset,
        "--seed",
        str(run.seed),
        "--save_dir",
        str(run.folder),
        *[arg for pair in sets for arg in ("--set", pair)],
    ]


def set_aside_unrecoverable(run: PlannedRun) -> Path | None:
    """A run that died before its first checkpoint cannot be resumed; its folder is renamed,
    never deleted, and the run starts again."""
    if run.folder.exists() and not run.finished() and not run.resumable():
        n = 1
        while (aside := run.folder.with_name(f"{run.folder.name}{SET_ASIDE}{n}")).exists():
            n += 1
        run.folder.rename(aside)
        return aside
    return None


class ComparisonInterrupted(Exception):
    """SIGINT/SIGTERM: every running run wrote a checkpoint; the same command resumes."""


def start_run(run: PlannedRun, plan: ComparePlan, cores: set[int], log: Path) -> subprocess.Popen:
    """A `train` child in its own session: a terminal's Ctrl-C reaches only this process,
    which passes exactly one SIGINT on to each child, so a stop requested by `kill` or a
    scheduler checkpoints the runs just as Ctrl-C does."""
    with log.open("a") as handle:
        return subprocess.Popen(
            train_command(run, plan),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=partial(pin, cores),
        )


def run_comparison(
    plan: ComparePlan, out: Path, jobs: int, console: Console | None = None
) -> list[PlannedRun]:
    """Run every unfinished run, `jobs` at a time; returns the runs that failed."""
    console = console or Console(stderr=True)
    runs = plan.runs(out)
    todo = [run for run in runs if not run.finished()]
    if len(todo) < len(runs):
        console.print(f"{len(runs) - len(todo)} of {len(runs)} runs already finished: kept")
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    free = core_slots(jobs)
    running: dict[PlannedRun, tuple[subprocess.Popen, set[int], float]] = {}
    failed: list[PlannedRun] = []
    timesteps, budget = plan.settings["timesteps"], plan.settings.get("max_minutes")
    progress = Progress(
        TextColumn("[bold]compare"),
        BarColumn(),
        TextColumn("{task.fields[runs]}"),
        TimeRemainingColumn(),
        console=console,
    )
    done = len(runs) - len(todo)
    bar = progress.add_task("compare", total=len(runs), runs="")
    forwarded = False
    with progress, StopOnSignal() as stop:
        while (todo and not stop.requested) or running:
            if stop.requested and not forwarded:
                forwarded = True
                progress.console.print("stopping: each running run writes a checkpoint")
                for process, _, _ in running.values():
                    process.send_signal(signal.SIGINT)
            while todo and free and not stop.requested:
                run = todo.pop(0)
                if (aside := set_aside_unrecoverable(run)) is not None:
                    progress.console.print(f"{run.name}: no checkpoint, moved to {aside}")
                cores = free.pop(0)
                verb = "resuming" if run.resumable() else "starting"
                process = start_run(run, plan, cores, logs / f"{run.preset}_seed{run.seed}.log")
                running[run] = (process, cores, time.monotonic())
                progress.console.print(f"{verb} {run.name} on cores {sorted(cores)}")
            for run, (process, cores, started) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[run]
                free.append(cores)
                minutes = (time.monotonic() - started) / 60
                if process.returncode == 0 and run.finished():
                    done += 1
                    progress.console.print(f"finished {run.name} in {minutes:.1f} min")
                elif not stop.requested:
                    failed.append(run)
                    progress.console.print(
                        f"[red]{run.name} stopped (exit {process.returncode}) after "
                        f"{minutes:.1f} min; see {logs / f'{run.preset}_seed{run.seed}.log'}"
                    )
            fraction = sum(r.fraction_done(timesteps, budget) for r in runs)
            progress.update(bar, completed=fraction, runs=f"{done}/{len(runs)} runs done")
            time.sleep(0.5)
    if stop.requested:
        raise ComparisonInterrupted
    return failed
