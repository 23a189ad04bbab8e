"""The loop's counters as one value: what a checkpoint saves and a resume restores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from soccer_td3.config import TrainConfig
from soccer_td3.training.stats import EpisodeStats


@dataclass
class TrainState:
    """Where a run stands. `time_elapsed` is the training time of earlier processes (a resume
    adds its own to it); `untrained_steps` are env steps not yet matched by a training round,
    which keeps the update-to-data ratio exact whatever the number of envs."""

    next_log: int
    next_eval: int | None
    next_checkpoint: int | None
    step: int = 0
    untrained_steps: int = 0
    best_score: float = -math.inf
    time_elapsed: float = 0.0
    last_eval_step: int = -1  # the step of the latest evaluation (-1: none yet)
    stats: EpisodeStats = field(default_factory=EpisodeStats)
    per_task: dict[str, EpisodeStats] = field(default_factory=dict)

    @classmethod
    def fresh(cls, config: TrainConfig) -> TrainState:
        per_task = (
            {task: EpisodeStats() for task in config.environment.env}
            if len(config.environment.env) > 1
            else {}
        )
        return cls(
            next_log=config.run.log_interval,
            next_eval=config.run.eval_freq or None,
            next_checkpoint=config.run.checkpoint_freq or None,
            per_task=per_task,
        )

    def to_checkpoint(self, elapsed: float) -> dict:
        """The checkpoint's counters (JSON); `elapsed`: this process's training time so far."""
        return {
            "step": self.step,
            "next_log": self.next_log,
            "untrained_steps": self.untrained_steps,
            "next_eval": self.next_eval,
            "next_checkpoint": self.next_checkpoint,
            "best_score": self.best_score,
            "time_elapsed": self.time_elapsed + elapsed,
            "last_eval_step": self.last_eval_step,
            "stats": self.stats.to_dict(),
            "per_task": {task: stats.to_dict() for task, stats in self.per_task.items()},
        }

    @classmethod
    def from_checkpoint(cls, state: dict) -> TrainState:
        return cls(
            next_log=state["next_log"],
            next_eval=state["next_eval"],
            next_checkpoint=state["next_checkpoint"],
            step=state["step"],
            untrained_steps=state["untrained_steps"],
            best_score=state["best_score"],
            time_elapsed=state["time_elapsed"],
            last_eval_step=state.get("last_eval_step", -1),  # absent from older checkpoints
            stats=EpisodeStats.from_dict(state["stats"]),
            per_task={t: EpisodeStats.from_dict(d) for t, d in state["per_task"].items()},
        )
