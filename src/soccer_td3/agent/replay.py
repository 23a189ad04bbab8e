"""Replay buffer: preallocated tensors on the learner device, uniform sampling with replacement.

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
    def __init__(
        self, capacity: int, obs_dim: int, act_dim: int, device: torch.device | str = "cpu"
    ):
        self.capacity = capacity
        self.device = torch.device(device)
        self.obs = torch.zeros((capacity, obs_dim), dtype=torch.float32, device=self.device)
        self.next_obs = torch.zeros((capacity, obs_dim), dtype=torch.float32, device=self.device)
        self.actions = torch.zeros((capacity, act_dim), dtype=torch.float32, device=self.device)
        self.rewards = torch.zeros((capacity, 1), dtype=torch.float32, device=self.device)
        self.dones = torch.zeros((capacity, 1), dtype=torch.float32, device=self.device)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: np.ndarray | Tensor,
        actions: np.ndarray | Tensor,
        rewards: np.ndarray | Tensor,
        next_obs: np.ndarray | Tensor,
        terminated: np.ndarray | Tensor,
    ) -> None:
        """Store a batch of transitions (leading dim = number of envs), wrapping around."""
        rows = {
            "obs": obs,
            "actions": actions,
            "rewards": rewards,
            "next_obs": next_obs,
            "dones": terminated,
        }
        n = len(rewards)
        if n > self.capacity:
            raise ValueError(f"cannot add {n} transitions to a buffer of capacity {self.capacity}")
        index = (torch.arange(n) + self.pos) % self.capacity
        index = index.to(self.device)
        for name, value in rows.items():
            storage: Tensor = getattr(self, name)
            tensor = torch.as_tensor(np.asarray(value) if not isinstance(value, Tensor) else value)
            storage[index] = tensor.to(self.device, torch.float32).reshape(n, -1)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> ReplayBatch:
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = torch.randint(0, self.size, (batch_size,), device=self.device, generator=generator)
        return ReplayBatch(
            self.obs[index],
            self.actions[index],
            self.rewards[index],
            self.next_obs[index],
            self.dones[index],
        )
