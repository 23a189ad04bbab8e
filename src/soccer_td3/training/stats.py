"""What the loop keeps between metric rows: finished episodes and summed losses."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

EPISODE_WINDOW = 100  # episodes averaged in rollout/* metrics, as in stable-baselines3


# Episode fields logged under SB3's names; any other field (shaping/<term>) keeps its own.
ROLLOUT_NAMES = {
    "return": "ep_rew_mean",
    "length": "ep_len_mean",
    "success": "success_rate",
    "env_return": "env_rew_mean",
}
# Checkpoints written before the window held every field named the three SB3 ones like this.
_LEGACY_FIELDS = {"returns": "return", "lengths": "length", "successes": "success"}


@dataclass
class EpisodeStats:
    """Rolling window of finished episodes' fields, for the rollout/* and shaping/* metrics."""

    window: dict[str, deque] = field(default_factory=dict)
    count: int = 0

    @classmethod
    def empty(cls) -> EpisodeStats:
        return cls()

    def to_dict(self) -> dict:
        return {
            "window": {key: list(values) for key, values in self.window.items()},
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: dict) -> EpisodeStats:
        fields = data.get("window") or {
            new: data[old] for old, new in _LEGACY_FIELDS.items() if data.get(old)
        }
        window = {key: deque(values, maxlen=EPISODE_WINDOW) for key, values in fields.items()}
        return cls(window, count=data["count"])

    def add(self, episode: dict[str, float]) -> None:
        for key, value in episode.items():
            self.window.setdefault(key, deque(maxlen=EPISODE_WINDOW)).append(value)
        self.count += 1

    def metrics(self, prefix: str = "rollout") -> dict[str, float]:
        out = {}
        for key, values in self.window.items():
            if key in ROLLOUT_NAMES:
                name = f"{prefix}/{ROLLOUT_NAMES[key]}"
            else:
                name = key if prefix == "rollout" else f"{prefix}/{key}"
            out[name] = float(np.mean(values))
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
