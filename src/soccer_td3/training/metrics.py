"""One logger, three sinks: TensorBoard (always), progress.csv (always), W&B (opt-in).

Keys follow stable-baselines3 (`rollout/ep_rew_mean`, `train/critic_loss`, `time/fps`, ...) so
dashboards and habits carry over. The CSV grows a column when a key first appears (training
losses appear only after learning_starts), rewriting the header as SB3's CSV writer does.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from soccer_td3.errors import UserError

STEP_KEY = "time/total_timesteps"
TIME_KEY = "time/time_elapsed"  # training seconds, summed over resumes


class CsvSink:
    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        self.path = path
        self.columns: list[str] = []
        if path.is_file():
            with path.open(newline="") as handle:
                self.columns = next(csv.reader(handle), [])
            if resume_step is not None:
                self._drop_rows_after(resume_step)

    def _drop_rows_after(self, step: int) -> None:
        """A resumed run replays the steps after its checkpoint: their old rows must go."""
        with self.path.open(newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if int(float(r[STEP_KEY])) <= step]
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict[str, float]) -> None:
        new = [key for key in row if key not in self.columns]
        if new:
            self.columns.extend(new)
            self._rewrite_header()
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, self.columns).writerow(row)

    def _rewrite_header(self) -> None:
        rows = []
        if self.path.is_file():
            with self.path.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns)
            writer.writeheader()
            writer.writerows(rows)


class MetricsLogger:
    def __init__(
        self,
        run_dir: Path,
        use_wandb: bool = False,
        config: dict[str, Any] | None = None,
        resume_step: int | None = None,
    ):
        from torch.utils.tensorboard import SummaryWriter

        self.csv = CsvSink(run_dir / "progress.csv", resume_step)
        self.episodes = CsvSink(run_dir / "episodes.csv", resume_step)
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
