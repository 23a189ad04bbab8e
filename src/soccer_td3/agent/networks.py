"""Actor and twin critic of TD3.

The actor ends in tanh and works in normalised actions ([-1, 1]); `to_env_units` rescales to
the env's torque bounds, so the buffer, the noise and the target smoothing all live in one unit.
The twin critics are two plain Linear stacks (see TwinCritic for the measurement that chose them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from soccer_td3.agent.obs_norm import ObsNormalizer

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "elu": F.elu,
}
# In-place where autograd allows it (ReLU and ELU backward read the output): one allocation
# less per layer. Tanh has no in-place module.
ACTIVATION_MODULES: dict[str, Callable[..., nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": lambda inplace: nn.Tanh(),
    "elu": nn.ELU,
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
        obs_norm_clip: float | None = None,
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.obs_norm = None if obs_norm_clip is None else ObsNormalizer(obs_dim, obs_norm_clip)
        self.hidden = list(hidden)
        self.activation = activation
        self.net = mlp(obs_dim, hidden, act_dim, activation)
        low = torch.as_tensor(action_low, dtype=torch.float32)
        high = torch.as_tensor(action_high, dtype=torch.float32)
        if low.shape != (act_dim,) or high.shape != (act_dim,):
            raise ValueError(f"action bounds must have shape ({act_dim},)")
        self.register_buffer("action_scale", (high - low) / 2)
        self.register_buffer("action_bias", (high + low) / 2)

    def start_near_zero(self, bound: float) -> None:
        """The last layer's weights and bias uniform in +-bound (DDPG's 3e-3), so the first
        policy acts near zero: over a balanced PD stance, a robot that stands from the start
        rather than one that a random residual knocks over."""
        last = self.net[-1]
        with torch.no_grad():
            last.weight.uniform_(-bound, bound)
            last.bias.uniform_(-bound, bound)

    def forward(self, obs: Tensor) -> Tensor:
        return torch.tanh(self.net(normalised(self, obs)))

    def to_env_units(self, normalised_action: Tensor) -> Tensor:
        return normalised_action * self.action_scale + self.action_bias


def normalised(net: Actor | TwinCritic, obs: Tensor) -> Tensor:
    """`obs` as `net` sees it: through its ObsNormalizer, when it has one."""
    return obs if net.obs_norm is None else net.obs_norm(obs)


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str) -> nn.Sequential:
    """Linear layers with `activation` between them and none after the last."""
    dims = [in_dim, *hidden, out_dim]
    layers: list[nn.Module] = []
    for fan_in, fan_out in pairwise(dims):
        layers += [nn.Linear(fan_in, fan_out), ACTIVATION_MODULES[activation](inplace=True)]
    return nn.Sequential(*layers[:-1])


class TwinCritic(nn.Module):
    """Two independent Q-networks on (obs, action); forward returns both, shape [2, batch, 1].

    Kept as two plain Linear stacks, not one batched [2, in, out] ensemble: they map 1:1 onto
    SB3's `qf0`/`qf1`, and the ensemble was slower under autograd and at most 5% faster with
    hand-written gradients (docs/design.md, "Measured").
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int],
        activation: str = "relu",
        obs_norm_clip: float | None = None,
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.obs_norm = None if obs_norm_clip is None else ObsNormalizer(obs_dim, obs_norm_clip)
        self.hidden = list(hidden)
        self.activation = activation
        self.q_nets = nn.ModuleList(mlp(obs_dim + act_dim, hidden, 1, activation) for _ in range(2))

    def forward(self, obs: Tensor, action: Tensor) -> Tensor:
        x = torch.cat([normalised(self, obs), action], dim=-1)
        return torch.stack([q(x) for q in self.q_nets])

    def q1_through_action(self, obs: Tensor, action: Tensor) -> Tensor:
        """Q1 with its weights held constant: the actor's loss needs d Q1 / d action only, so
        no gradient is computed for the critic's weights (SB3 computes and discards them)."""
        act = ACTIVATIONS[self.activation]
        x = torch.cat([normalised(self, obs), action], dim=-1)
        linears = [m for m in self.q_nets[0] if isinstance(m, nn.Linear)]
        for i, layer in enumerate(linears):
            x = F.linear(x, layer.weight.detach(), layer.bias.detach())
            if i < len(linears) - 1:
                x = act(x)
        return x
