"""Replay buffer: one preallocated tensor on the learner device, uniform sampling with replacement.

Transitions arrive a vector step at a time (one row per env), so one copy per step crosses to
the device. `done` is termination only: a time-limit truncation still bootstraps from the
next observation (the episode did not end in the MDP, it was cut).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


class ReplayBatch(NamedTuple):
    obs: Tensor
    actions: Tensor
    rewards: Tensor
    next_obs: Tensor
    dones: Tensor


class ReplayBuffer:
    """One [capacity, fields] tensor: a sample is one row gather, the fields are views of it."""

    def __init__(
        self, capacity: int, obs_dim: int, act_dim: int, device: torch.device | str = "cpu"
    ) -> None:
        self.capacity = capacity
        self.device = torch.device(device)
        self.widths = [obs_dim, act_dim, 1, obs_dim, 1]  # obs, actions, rewards, next_obs, dones
        self.storage = torch.zeros(
            (capacity, sum(self.widths)), dtype=torch.float32, device=self.device
        )
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _fields(self, rows: Tensor) -> ReplayBatch:
        return ReplayBatch(*rows.split(self.widths, dim=1))

    def contents(self) -> ReplayBatch:
        """Every row (filled or not) as named views, for inspection and checkpoints."""
        return self._fields(self.storage)

    def add(
        self,
        obs: np.ndarray | Tensor,
        actions: np.ndarray | Tensor,
        rewards: np.ndarray | Tensor,
        next_obs: np.ndarray | Tensor,
        terminated: np.ndarray | Tensor,
    ) -> None:
        """Store a batch of transitions (leading dim = number of envs), wrapping around."""
        n = len(rewards)
        if n > self.capacity:
            raise ValueError(f"cannot add {n} transitions to a buffer of capacity {self.capacity}")
        parts = [
            torch.as_tensor(value, dtype=torch.float32).reshape(n, -1).to(self.device)
            for value in (obs, actions, rewards, next_obs, terminated)
        ]
        rows = torch.cat(parts, dim=1)
        first = min(n, self.capacity - self.pos)
        self.storage[self.pos : self.pos + first] = rows[:first]
        self.storage[: n - first] = rows[first:]
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> ReplayBatch:
        """Uniform with replacement over the filled rows, as stable-baselines3 samples."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = torch.randint(0, self.size, (batch_size,), device=self.device, generator=generator)
        return self._fields(self.storage.index_select(0, index))
