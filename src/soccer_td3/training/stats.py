"""What the loop keeps between metric rows: finished episodes and summed losses."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

EPISODE_WINDOW = 100  # episodes averaged in rollout/* metrics, as in stable-baselines3


@dataclass
class EpisodeStats:
    """Rolling window of finished episodes, for the rollout/* metrics."""

    returns: deque
    lengths: deque
    successes: deque
    count: int = 0

    @classmethod
    def empty(cls) -> EpisodeStats:
        return cls(*(deque(maxlen=EPISODE_WINDOW) for _ in range(3)))

    def to_dict(self) -> dict:
        return {
            "returns": list(self.returns),
            "lengths": list(self.lengths),
            "successes": list(self.successes),
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: dict) -> EpisodeStats:
        window = [
            deque(data[k], maxlen=EPISODE_WINDOW) for k in ("returns", "lengths", "successes")
        ]
        return cls(*window, count=data["count"])

    def add(self, episode: dict[str, float]) -> None:
        self.returns.append(episode["return"])
        self.lengths.append(episode["length"])
        if "success" in episode:
            self.successes.append(episode["success"])
        self.count += 1

    def metrics(self, prefix: str = "rollout") -> dict[str, float]:
        if not self.returns:
            return {}
        out = {
            f"{prefix}/ep_rew_mean": float(np.mean(self.returns)),
            f"{prefix}/ep_len_mean": float(np.mean(self.lengths)),
        }
        if self.successes:
            out[f"{prefix}/success_rate"] = float(np.mean(self.successes))
        return out


class LossAccumulator:
    """Sums losses on the device; they cross to the host only when a row is logged."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, metrics: dict[str, torch.Tensor]) -> None:
        for key, value in metrics.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()
            self.counts[key] = self.counts.get(key, 0) + 1

    def drain(self) -> dict[str, float]:
        out = {key: float(total) / self.counts[key] for key, total in self.sums.items()}
        self.sums.clear()
        self.counts.clear()
        return out
