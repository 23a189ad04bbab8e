"""The TD3 update (Fujimoto et al. 2018), readable top to bottom against the paper.

1. target action = target actor + clipped Gaussian smoothing noise, clamped to the action box;
2. critic target = r + gamma * (1 - terminated) * min(Q1', Q2')  (clipped double-Q);
3. both critics regress to it;
4. every `policy_delay` critic steps: the actor ascends Q1, and all target nets move by polyak.

Losses stay on the device as tensors: reading them back forces a host sync, so the loop does it
only when it logs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from soccer_td3.agent.networks import Actor, TwinCritic
from soccer_td3.agent.replay import ReplayBatch


@dataclass(frozen=True)
class TD3Hyperparams:
    gamma: float = 0.99
    tau: float = 0.005
    policy_delay: int = 2
    target_policy_noise: float = 0.2
    target_noise_clip: float = 0.5


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
    n_updates: int = 0

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
        learning_rate: float = 3e-4,
        activation: str = "relu",
        device: torch.device | str = "cpu",
    ) -> TD3Learner:
        actor = Actor(obs_dim, act_dim, actor_net, action_low, action_high, activation).to(device)
        critic = TwinCritic(obs_dim, act_dim, critic_net, activation).to(device)
        actor_target = copy.deepcopy(actor).requires_grad_(False)
        critic_target = copy.deepcopy(critic).requires_grad_(False)
        # foreach Adam: one fused kernel per op over all parameters, no Python loop per tensor.
        actor_optimizer = torch.optim.Adam(actor.parameters(), lr=learning_rate, foreach=True)
        critic_optimizer = torch.optim.Adam(critic.parameters(), lr=learning_rate, foreach=True)
        return cls(
            actor, critic, actor_target, critic_target, actor_optimizer, critic_optimizer, hp
        )

    def update(self, batch: ReplayBatch) -> dict[str, Tensor]:
        """One critic step, plus the delayed actor and target step when it is due."""
        self.n_updates += 1
        update_actor = self.n_updates % self.hp.policy_delay == 0
        return td3_update(self, batch, update_actor)


def smoothed_target_action(actor_target: Actor, next_obs: Tensor, hp: TD3Hyperparams) -> Tensor:
    """Target policy smoothing: noise clipped to +-target_noise_clip, action kept in [-1, 1]."""
    action = actor_target(next_obs)
    noise = (torch.randn_like(action) * hp.target_policy_noise).clamp(
        -hp.target_noise_clip, hp.target_noise_clip
    )
    return (action + noise).clamp(-1.0, 1.0)


def critic_target_value(
    critic_target: TwinCritic, batch: ReplayBatch, next_action: Tensor, gamma: float
) -> Tensor:
    """Clipped double-Q target; `dones` is termination only, so truncation still bootstraps."""
    next_q = critic_target(batch.next_obs, next_action).min(dim=0).values
    return batch.rewards + (1.0 - batch.dones) * gamma * next_q


def polyak_update(target: torch.nn.Module, online: torch.nn.Module, tau: float) -> None:
    """target <- tau * online + (1 - tau) * target, as one foreach kernel over all tensors."""
    torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), tau)


def td3_update(learner: TD3Learner, batch: ReplayBatch, update_actor: bool) -> dict[str, Tensor]:
    hp = learner.hp
    with torch.no_grad():
        next_action = smoothed_target_action(learner.actor_target, batch.next_obs, hp)
        target_q = critic_target_value(learner.critic_target, batch, next_action, hp.gamma)

    current_q = learner.critic(batch.obs, batch.actions)  # [2, batch, 1]
    # Sum of the two critics' MSEs, as in the paper and stable-baselines3.
    critic_loss = (current_q - target_q).pow(2).mean(dim=(1, 2)).sum()
    learner.critic_optimizer.zero_grad(set_to_none=True)
    critic_loss.backward()
    learner.critic_optimizer.step()

    metrics = {"train/critic_loss": critic_loss.detach(), "train/q_mean": current_q.detach().mean()}
    if update_actor:
        actor_loss = -learner.critic.q1(batch.obs, learner.actor(batch.obs)).mean()
        learner.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        learner.actor_optimizer.step()
        polyak_update(learner.critic_target, learner.critic, hp.tau)
        polyak_update(learner.actor_target, learner.actor, hp.tau)
        metrics["train/actor_loss"] = actor_loss.detach()
    return metrics
