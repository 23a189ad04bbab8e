"""Observation normalisation: a running mean and variance of the observations as they are
collected (not of replayed samples), applied inside the networks and clipped.

The statistics are buffers of the module, so they travel with the weights: in weight files,
checkpoints (a resume continues them exactly) and the export. They move only when the loop
calls `update` with the observations it collects; evaluation never does, so it plays with them
frozen. Kept in float64 (Chan et al.'s parallel update), they equal numpy's mean and variance
of everything seen.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

EPS = 1e-8


class ObsNormalizer(nn.Module):
    def __init__(self, obs_dim: int, clip: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(obs_dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(obs_dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("clip", torch.tensor(float(clip), dtype=torch.float64))

    @torch.no_grad()
    def update(self, obs: Tensor) -> None:
        """Fold a batch of observations [n, obs_dim] into the running statistics."""
        batch = obs.detach().reshape(-1, self.mean.shape[0]).to(torch.float64)
        n = batch.shape[0]
        batch_mean, batch_var = batch.mean(0), batch.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta.square() * self.count * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, obs: Tensor) -> Tensor:
        mean = self.mean.to(obs.dtype)
        std = (self.var + EPS).sqrt().to(obs.dtype)
        # A tensor bound, not float(self.clip): no host read-back on a GPU, and a traced
        # export keeps it as the buffer it is instead of baking in a constant with a warning.
        clip = self.clip.to(obs.dtype)
        return ((obs - mean) / std).clamp(-clip, clip)
