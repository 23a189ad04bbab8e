"""One logger, three sinks: TensorBoard (always), progress.csv (always), W&B (opt-in).

Keys follow stable-baselines3 (`rollout/ep_rew_mean`, `train/critic_loss`, `time/fps`, ...) so
dashboards and habits carry over. The CSV grows a column when a key first appears (training
losses appear only after learning_starts), rewriting the header as SB3's CSV writer does.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from soccer_td3.errors import UserError
from soccer_td3.files import atomic_path, read_text, write_failed

STEP_KEY = "time/total_timesteps"
TIME_KEY = "time/time_elapsed"  # training seconds, summed over resumes


def _step(row: list[str]) -> float | None:
    try:
        step = float(row[0])
    except (ValueError, IndexError):
        return None
    return step if math.isfinite(step) and step >= 0 else None


def read_log(path: Path, increasing: bool) -> tuple[list[str], list[list[str]], str | None]:
    """A CSV log's header and rows, checked: (columns, rows, note). The first column is the
    step, non-decreasing down the file (strictly increasing when `increasing`: progress.csv
    has one row per step). A last row cut short (a kill or a full disk mid-write) is dropped,
    and `note` says so; any other damage is one UserError naming the file."""
    move_aside = f"move {path.name} aside and resume: the run continues without that history"
    text = read_text(path, "log", move_aside)
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        return [], [], None
    columns = lines[0]
    if not columns or columns[0] != STEP_KEY:
        raise UserError(
            f"{path} is not a soccer-td3 log (its header does not start with {STEP_KEY}); "
            f"{move_aside}"
        )
    rows, note = lines[1:], None
    unfinished = not text.endswith("\n")  # every whole row ends its line
    if rows and (unfinished or len(rows[-1]) != len(columns) or _step(rows[-1]) is None):
        rows, note = rows[:-1], f"{path.name}: its last row was cut short; dropped it"
    previous = -1.0
    for number, row in enumerate(rows, start=2):
        step = _step(row)
        if (
            len(row) != len(columns)
            or step is None
            or step < previous
            or (increasing and step == previous)
        ):
            raise UserError(f"{path} is damaged at line {number}; {move_aside}")
        previous = step
    return columns, rows, note


class CsvSink:
    """One CSV log. Rows are appended, each in one write; a write that fails is cut back, so
    the file keeps every earlier row whole. A new column rewrites the file under a temporary
    name, renamed over it (files.py). Rewriting the whole log at every row would do the same
    quadratically: episodes.csv grows by a row per episode."""

    def __init__(self, path: Path, resume_step: int | None = None, increasing: bool = False):
        self.path = path
        self.columns: list[str] = []
        self.note: str | None = None
        if path.is_file():
            self.columns, rows, self.note = read_log(path, increasing)
            if resume_step is not None or self.note is not None:
                # A resumed run replays the steps after its checkpoint: their old rows go.
                kept = [r for r in rows if resume_step is None or _step(r) <= resume_step]
                self._rewrite(kept)

    def _rewrite(self, rows: list[list[str]]) -> None:
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.columns)
            writer.writerows(rows)

    def write(self, row: dict[str, float]) -> None:
        new = [key for key in row if key not in self.columns]
        if new:
            old_columns = list(self.columns)
            rows = read_log(self.path, False)[1] if self.path.is_file() else []
            self.columns.extend(new)
            self._rewrite([r + [""] * (len(self.columns) - len(old_columns)) for r in rows])
        line = io.StringIO()
        csv.writer(line).writerow([row.get(key, "") for key in self.columns])
        self._append(line.getvalue())

    def _append(self, text: str) -> None:
        size = self.path.stat().st_size if self.path.exists() else 0
        try:
            with self.path.open("a", newline="") as handle:
                handle.write(text)
                handle.flush()
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.truncate(self.path, size)
            raise write_failed(self.path, exc) from None


class MetricsLogger:
    def __init__(
        self,
        run_dir: Path,
        use_wandb: bool = False,
        config: dict[str, Any] | None = None,
        resume_step: int | None = None,
    ):
        from torch.utils.tensorboard import SummaryWriter

        self.csv = CsvSink(run_dir / "progress.csv", resume_step, increasing=True)
        self.episodes = CsvSink(run_dir / "episodes.csv", resume_step)
        self.notes = [sink.note for sink in (self.csv, self.episodes) if sink.note]
        # purge_step: TensorBoard drops the events a crashed run wrote after the checkpoint.
        purge = None if resume_step is None else resume_step + 1
        self.tensorboard = SummaryWriter(str(run_dir / "tb"), purge_step=purge)
        self.wandb_run = _start_wandb(run_dir, config or {}) if use_wandb else None

    def record(self, step: int, metrics: dict[str, float]) -> None:
        row = {STEP_KEY: step, **metrics}
        self.csv.write(row)
        for key, value in metrics.items():
            self.tensorboard.add_scalar(key, value, step)
        if self.wandb_run is not None:
            self.wandb_run.log(row, step=step)

    def record_episode(self, step: int, env_index: int, task: str, info: dict[str, float]) -> None:
        """One row per finished episode (SB3's monitor.csv, for all envs in one file)."""
        self.episodes.write({STEP_KEY: step, "env": env_index, "task": task, **info})

    def close(self) -> None:
        self.tensorboard.close()
        if self.wandb_run is not None:
            self.wandb_run.finish()


def _start_wandb(run_dir: Path, config: dict[str, Any]):
    try:
        import wandb
    except ImportError:
        raise UserError(
            "--use_wandb needs the wandb package; install it with: pip install 'soccer-td3[wandb]'"
        ) from None
    # No API key means no account to sync to (or no network): log offline into the run folder;
    # `wandb sync run_dir/wandb/...` uploads it later.
    if "WANDB_MODE" not in os.environ and "WANDB_API_KEY" not in os.environ:
        os.environ["WANDB_MODE"] = "offline"
    return wandb.init(
        project="soccer_td3",
        dir=str(run_dir),
        config=config,
        name=run_dir.name,
        sync_tensorboard=False,
    )
