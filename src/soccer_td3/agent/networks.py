"""Actor and twin critic of TD3.

The actor ends in tanh and works in normalised actions ([-1, 1]); `to_env_units` rescales to
the env's torque bounds, so the buffer, the noise and the target smoothing all live in one unit.
The twin critics are one batched ensemble (weights [2, in, out], one baddbmm per layer): both
Qs cost one kernel per layer instead of two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "elu": F.elu,
}


class Actor(nn.Module):
    """Deterministic policy: observation -> normalised action in [-1, 1]."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int],
        action_low: Sequence[float],
        action_high: Sequence[float],
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.hidden = list(hidden)
        self.activation = activation
        dims = [obs_dim, *hidden, act_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in pairwise(dims))
        low = torch.as_tensor(action_low, dtype=torch.float32)
        high = torch.as_tensor(action_high, dtype=torch.float32)
        if low.shape != (act_dim,) or high.shape != (act_dim,):
            raise ValueError(f"action bounds must have shape ({act_dim},)")
        self.register_buffer("action_scale", (high - low) / 2)
        self.register_buffer("action_bias", (high + low) / 2)

    def forward(self, obs: Tensor) -> Tensor:
        act = ACTIVATIONS[self.activation]
        x = obs
        for layer in self.layers[:-1]:
            x = act(layer(x))
        return torch.tanh(self.layers[-1](x))

    def to_env_units(self, normalised_action: Tensor) -> Tensor:
        return normalised_action * self.action_scale + self.action_bias


class TwinCritic(nn.Module):
    """Two Q-networks stored as one ensemble; forward returns Q-values of shape [2, batch, 1]."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int],
        activation: str = "relu",
        n_critics: int = 2,
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.hidden = list(hidden)
        self.activation = activation
        self.n_critics = n_critics
        dims = [obs_dim + act_dim, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in pairwise(dims):
            # Same distribution as nn.Linear's default init (kaiming_uniform with a=sqrt(5)),
            # so the ensemble starts where two separate Linear stacks would.
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(
                nn.Parameter(torch.empty(n_critics, fan_in, fan_out).uniform_(-bound, bound))
            )
            self.biases.append(
                nn.Parameter(torch.empty(n_critics, 1, fan_out).uniform_(-bound, bound))
            )

    def forward(self, obs: Tensor, action: Tensor) -> Tensor:
        act = ACTIVATIONS[self.activation]
        x = torch.cat([obs, action], dim=-1)
        x = x.unsqueeze(0).expand(self.n_critics, *x.shape)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(bias, x, weight)
            if i < last:
                x = act(x)
        return x

    def q1(self, obs: Tensor, action: Tensor) -> Tensor:
        """The first Q alone: the actor's loss needs only it, at half the cost."""
        act = ACTIVATIONS[self.activation]
        x = torch.cat([obs, action], dim=-1)
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.addmm(bias[0], x, weight[0])
            if i < last:
                x = act(x)
        return x
