"""Live red flags on the metrics stream: the seed's "if you see this, fix it" list, automated.

Each check reads the rows the logger writes and fires at most once per run, with the seed's
remedy. The loop prints it (in colour), appends it to redflags.log and TensorBoard text. A
non-finite flag always stops the run (exit 2: nothing good can follow); with --strict-redflags
an exploding-loss flag stops it too, after a checkpoint, with exit code 3.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RedFlag:
    name: str
    step: int
    message: str
    remedy: str
    stops_when_strict: bool

    def line(self) -> str:
        return f"RED FLAG [{self.name}] at step {self.step}: {self.message} -> {self.remedy}"


@dataclass(frozen=True)
class RedFlagThresholds:
    """The checks' limits; TrainConfig's redflag_* fields are their one source (no defaults
    here but min_improvement, which no setting exposes)."""

    window: int  # env steps a trend is judged over
    loss_growth: float  # critic/actor loss magnitude growing this many times: exploding
    q_limit: float  # |q_mean| beyond any plausible discounted return
    min_fps: float  # env steps/s below which training is "very slow"
    min_improvement: float = 0.0  # ep_rew_mean must rise by more than this over the window


class RedFlagMonitor:
    def __init__(
        self,
        thresholds: RedFlagThresholds,
        learning_starts: int,
        cpu_with_cuda_available: bool = False,
    ) -> None:
        self.t = thresholds
        self.learning_starts = learning_starts
        self.cpu_with_cuda_available = cpu_with_cuda_available
        self.fired: set[str] = set()
        self.history: deque[tuple[int, dict[str, float]]] = deque()

    def _window(self, step: int, key: str) -> list[float]:
        return [row[key] for s, row in self.history if key in row and s >= step - self.t.window]

    def check(self, step: int, row: dict[str, float]) -> list[RedFlag]:
        """The flags that fire for the first time on this row."""
        self.history.append((step, row))
        while self.history and self.history[0][0] < step - self.t.window:
            self.history.popleft()
        candidates = [
            self._non_finite(step, row),
            self._exploding(step, row),
            self._flat_reward(step),
            self._slow(step, row),
        ]
        new = [f for f in candidates if f is not None and f.name not in self.fired]
        self.fired.update(f.name for f in new)
        return new

    def _non_finite(self, step: int, row: dict[str, float]) -> RedFlag | None:
        bad = [(k, v) for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
        if not bad:
            return None
        key, value = bad[0]
        return RedFlag(
            "non_finite",
            step,
            f"{key} became {value}",
            "lower learning_rate to "
            "1e-4, or batch_size to 128, and resume from the last checkpoint",
            True,
        )

    def _exploding(self, step: int, row: dict[str, float]) -> RedFlag | None:
        q = row.get("train/q_mean")
        if q is not None and math.isfinite(q) and abs(q) > self.t.q_limit:
            return RedFlag(
                "exploding_loss",
                step,
                f"|train/q_mean| = {abs(q):.3g} > {self.t.q_limit:g}, beyond any plausible return",
                "lower learning_rate to 1e-4, or batch_size to 128",
                True,
            )
        for key in ("train/critic_loss", "train/actor_loss"):
            values = [abs(v) for v in self._window(step, key) if math.isfinite(v)]
            if len(values) >= 3 and values[-1] > self.t.loss_growth * max(min(values), 1e-8):
                return RedFlag(
                    "exploding_loss",
                    step,
                    f"{key} grew {values[-1] / min(values):.3g}x within {self.t.window} steps",
                    "lower learning_rate to 1e-4, or batch_size to 128",
                    True,
                )
        return None

    def _flat_reward(self, step: int) -> RedFlag | None:
        if step < self.learning_starts + self.t.window:
            return None
        values = self._window(step, "rollout/ep_rew_mean")
        if len(values) < 4:
            return None
        quarter = max(1, len(values) // 4)
        first = sum(values[:quarter]) / quarter
        last = sum(values[-quarter:]) / quarter
        if last - first > self.t.min_improvement:
            return None
        return RedFlag(
            "flat_reward",
            step,
            f"rollout/ep_rew_mean went {first:.3g} -> {last:.3g} "
            f"over the last {self.t.window} steps",
            "add reward shaping (--shaping default), or check the env is working",
            False,
        )

    def _slow(self, step: int, row: dict[str, float]) -> RedFlag | None:
        if self.cpu_with_cuda_available:
            return RedFlag(
                "slow",
                step,
                "training on the CPU while a CUDA GPU is visible",
                "use --device cuda (and --compile, --precision bf16)",
                False,
            )
        fps = row.get("time/fps")
        if step > self.learning_starts and fps is not None and fps < self.t.min_fps:
            return RedFlag(
                "slow",
                step,
                f"{fps:.1f} env steps/s < {self.t.min_fps:g}",
                "use --device cuda, --compile, --precision bf16",
                False,
            )
        return None
