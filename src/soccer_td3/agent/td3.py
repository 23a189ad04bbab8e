"""The TD3 update (Fujimoto et al. 2018), readable top to bottom against the paper.

1. target action = target actor + clipped Gaussian smoothing noise, clamped to the action box;
2. critic target = r + gamma * (1 - terminated) * min(Q1', Q2')  (clipped double-Q);
3. both critics regress to it (loss = sum of the two MSEs);
4. every `policy_delay` critic steps: the actor ascends Q1, and all target nets move by polyak.

Speed without changing the maths: autograd is the one gradient path (hand-written gradients
gained under 10% and were removed, docs/benchmarks.md), with fused Adam (one kernel for all
parameters), polyak as one `_foreach_lerp_`, no critic weight gradients in the actor step,
losses left on the device (a read-back forces a host sync; the loop reads them only when it
logs), optional torch.compile of the two loss functions, and optional bf16 autocast for the
matmuls with targets, losses, weights and optimiser state in fp32.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from soccer_td3.agent.networks import Actor, TwinCritic
from soccer_td3.agent.replay import ReplayBatch


@dataclass(frozen=True)
class TD3Hyperparams:
    """The update's numbers. No defaults: TrainConfig is their one source
    (training/settings.py builds this from it)."""

    gamma: float
    tau: float
    policy_delay: int
    target_policy_noise: float
    target_noise_clip: float
    actor_l2: float  # 0: TD3's actor loss; see actor_loss


@dataclass(frozen=True)
class Acceleration:
    """How the update runs; none of it changes what it computes (bf16 rounds the matmuls).
    No defaults, as for TD3Hyperparams."""

    precision: str  # "fp32" | "bf16"
    compile: bool


def smoothed_target_action(
    actor_target: Actor, next_obs: Tensor, noise: Tensor, hp: TD3Hyperparams
) -> Tensor:
    """Target policy smoothing: standard-normal `noise` scaled and clipped; action in [-1, 1]."""
    clipped = (noise * hp.target_policy_noise).clamp(-hp.target_noise_clip, hp.target_noise_clip)
    return (actor_target(next_obs) + clipped).clamp(-1.0, 1.0)


def critic_target_value(
    critic_target: TwinCritic, batch: ReplayBatch, next_action: Tensor, gamma: float
) -> Tensor:
    """Clipped double-Q target; `dones` is termination only, so truncation still bootstraps."""
    next_q = critic_target(batch.next_obs, next_action).float().min(dim=0).values
    return batch.rewards + (1.0 - batch.dones) * gamma * next_q


def critic_loss(learner: TD3Learner, batch: ReplayBatch, noise: Tensor) -> tuple[Tensor, Tensor]:
    """Sum of both critics' MSE to the clipped double-Q target, and the mean Q (for logging)."""
    with torch.no_grad(), learner.autocast():
        next_action = smoothed_target_action(
            learner.actor_target, batch.next_obs, noise, learner.hp
        )
        target_q = critic_target_value(learner.critic_target, batch, next_action, learner.hp.gamma)
    with learner.autocast():
        current_q = learner.critic(batch.obs, batch.actions).float()  # [2, batch, 1]
    loss = (current_q - target_q).pow(2).mean(dim=(1, 2)).sum()
    return loss, current_q.detach().mean()


def actor_loss(learner: TD3Learner, obs: Tensor) -> Tensor:
    """-Q1(s, pi(s)); with actor_l2 > 0, Q over its mean magnitude (TD3+BC's normalisation,
    so the weight means the same at any reward scale) plus actor_l2 * mean(pi(s)^2): a
    residual policy then leaves zero only where Q clearly pays for it, instead of chasing the
    critic's guesses far from the actions it has seen."""
    with learner.autocast():
        action = learner.actor(obs)
        q1 = learner.critic.q1_through_action(obs, action)
    q1 = q1.float()
    if not learner.hp.actor_l2:
        return -q1.mean()
    penalty = learner.hp.actor_l2 * action.float().pow(2).mean()
    return -q1.mean() / q1.abs().mean().detach().clamp_min(1e-8) + penalty


@dataclass
class TD3Learner:
    """The learner's whole state: online and target nets, optimisers, and the update count."""

    actor: Actor
    critic: TwinCritic
    actor_target: Actor
    critic_target: TwinCritic
    actor_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer
    hp: TD3Hyperparams
    acceleration: Acceleration
    n_updates: int = 0

    def __post_init__(self) -> None:
        self.device_type = next(self.actor.parameters()).device.type
        self._targets = [*self.actor_target.parameters(), *self.critic_target.parameters()]
        self._onlines = [*self.actor.parameters(), *self.critic.parameters()]
        self.critic_loss_fn: Callable = critic_loss
        self.actor_loss_fn: Callable = actor_loss
        if self.acceleration.compile:
            # On CUDA, reduce-overhead captures the update in CUDA graphs (launch-bound there);
            # on CPU the default mode fuses the element-wise ops around the matmuls.
            mode = "reduce-overhead" if self.device_type == "cuda" else "default"
            self.critic_loss_fn = torch.compile(critic_loss, mode=mode)
            self.actor_loss_fn = torch.compile(actor_loss, mode=mode)

    @classmethod
    def build(
        cls,
        obs_dim: int,
        act_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        actor_net: Sequence[int],
        critic_net: Sequence[int],
        hp: TD3Hyperparams,
        acceleration: Acceleration,
        learning_rate: float,
        activation: str = "relu",
        device: torch.device | str = "cpu",
        obs_norm_clip: float | None = None,
        actor_last_layer_init: float = 0.0,
    ) -> TD3Learner:
        actor = Actor(
            obs_dim, act_dim, actor_net, action_low, action_high, activation, obs_norm_clip
        ).to(device)
        if actor_last_layer_init > 0:
            actor.start_near_zero(actor_last_layer_init)
        critic = TwinCritic(obs_dim, act_dim, critic_net, activation, obs_norm_clip).to(device)
        actor_target = copy.deepcopy(actor).requires_grad_(False)
        critic_target = copy.deepcopy(critic).requires_grad_(False)
        # Fused Adam: one kernel over all parameters (docs/design.md has the timing).
        actor_optimizer = torch.optim.Adam(actor.parameters(), lr=learning_rate, fused=True)
        critic_optimizer = torch.optim.Adam(critic.parameters(), lr=learning_rate, fused=True)
        return cls(
            actor,
            critic,
            actor_target,
            critic_target,
            actor_optimizer,
            critic_optimizer,
            hp,
            acceleration,
        )

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.acceleration.precision == "bf16":
            return torch.autocast(self.device_type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def update(self, batch: ReplayBatch, actor_learns: bool = True) -> dict[str, Tensor]:
        """One critic step, plus the delayed actor and target step when it is due. In a critic
        warm-up (`actor_learns` False) the actor holds still; the targets still follow."""
        self.n_updates += 1
        due = self.n_updates % self.hp.policy_delay == 0
        metrics = td3_update(self, batch, update_actor=due and actor_learns)
        if due and not actor_learns:
            with torch.no_grad():
                self.polyak_update()
        return metrics

    def observe(self, obs: Tensor) -> None:
        """Fold collected observations into every network's statistics alike (online and
        target nets normalise identically); a no-op without obs_norm."""
        for net in (self.actor, self.critic, self.actor_target, self.critic_target):
            if net.obs_norm is not None:
                net.obs_norm.update(obs)

    def polyak_update(self) -> None:
        """target <- tau * online + (1 - tau) * target, one foreach kernel over every tensor."""
        torch._foreach_lerp_(self._targets, self._onlines, self.hp.tau)


def td3_update(learner: TD3Learner, batch: ReplayBatch, update_actor: bool) -> dict[str, Tensor]:
    noise = torch.randn_like(batch.actions)
    loss, q_mean = learner.critic_loss_fn(learner, batch, noise)
    learner.critic_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    learner.critic_optimizer.step()
    metrics = {"train/critic_loss": loss.detach(), "train/q_mean": q_mean}
    if update_actor:
        a_loss = learner.actor_loss_fn(learner, batch.obs)
        learner.actor_optimizer.zero_grad(set_to_none=True)
        a_loss.backward()
        learner.actor_optimizer.step()
        with torch.no_grad():
            learner.polyak_update()
        metrics["train/actor_loss"] = a_loss.detach()
    return metrics
