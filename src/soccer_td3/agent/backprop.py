"""The TD3 losses' gradients written out by hand, for fp32 updates without torch.compile.

Why: on a 2-core CPU an autograd update of the seed's networks spends a third of its time
outside the matmuls (docs/design.md, "Measured"): module calls, graph nodes, views and
gradient accumulation around 303 dispatched ops. An MLP's backward is short to write: for each
layer from the last, weight grad = g^T x, bias grad = sum of g, g <- (g W) * act'(output).
Written out, an update is 187 ops and every product the same as autograd's, so the weights
after an update are autograd's to float rounding (tests/agent/test_backprop.py checks every
activation, actor_l2, obs_norm and both CPU backends against autograd).

Autograd stays the one path for bf16 autocast and torch.compile, and the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from soccer_td3.agent.networks import Actor, TwinCritic, normalised
from soccer_td3.agent.onednn_linear import (
    FastLinear,
    onednn_applies,
    onednn_input_grad,
    onednn_product,
    onednn_weight_grad,
)
from soccer_td3.agent.replay import ReplayBatch

_aten = torch.ops.aten


class LossNumbers(Protocol):
    gamma: float
    target_policy_noise: float
    target_noise_clip: float
    actor_l2: float


class Learner(Protocol):
    """What the gradients read of a TD3Learner (agent/td3.py imports this module)."""

    actor: Actor
    critic: TwinCritic
    actor_target: Actor
    critic_target: TwinCritic
    hp: LossNumbers


def activate_(h: Tensor, activation: str) -> Tensor:
    """The hidden activation in place (the output is all its derivative needs)."""
    if activation == "relu":
        return h.relu_()
    if activation == "tanh":
        return h.tanh_()
    return torch.nn.functional.elu_(h)


def activation_grad(g: Tensor, output: Tensor, activation: str) -> Tensor:
    """d loss / d pre-activation from d loss / d output, by the output alone."""
    if activation == "relu":
        return _aten.threshold_backward(g, output, 0)
    if activation == "tanh":
        return _aten.tanh_backward(g, output)
    return _aten.elu_backward(g, 1.0, 1.0, 1.0, True, output)


@dataclass
class Tape:
    """What one MLP forward keeps for its backward: each layer's input, and whether its
    products ran in oneDNN (decided once, at the forward, as autograd's Function does)."""

    layers: list[FastLinear]
    inputs: list[Tensor]
    onednn: list[bool]
    activation: str


def layers_of(mlp: nn.Sequential) -> list[FastLinear]:
    return [m for m in mlp if isinstance(m, FastLinear)]


def mlp_forward(mlp: nn.Sequential, x: Tensor, activation: str) -> tuple[Tensor, Tape]:
    """Linear layers with `activation` between them, as networks.mlp builds them."""
    layers = layers_of(mlp)
    tape = Tape(layers, [], [], activation)
    last = len(layers) - 1
    h = x
    for i, layer in enumerate(layers):
        onednn = onednn_applies(h, layer.onednn)
        if onednn:
            h = h.contiguous()  # see _OneDnnLinear: a strided input slows the weight grad
        tape.inputs.append(h)
        tape.onednn.append(onednn)
        if onednn:
            h = onednn_product(h, layer.weight, layer.bias)
        else:
            h = torch.addmm(layer.bias, h, layer.weight.t())
        if i < last:
            h = activate_(h, activation)
    return h, tape


def mlp_backward(
    tape: Tape, g: Tensor, weight_grads: bool = True, input_grad_from: int | None = None
) -> tuple[list[tuple[nn.Parameter, Tensor]], Tensor | None]:
    """(parameter, gradient) pairs of the tape's layers for d loss / d output `g`, and, with
    `input_grad_from` k, d loss / d input[:, k:] (the actor's step needs Q1's gradient in the
    action columns only: a product 12 columns wide instead of 57)."""
    grads: list[tuple[nn.Parameter, Tensor]] = []
    for i in range(len(tape.layers) - 1, -1, -1):
        layer, x, onednn = tape.layers[i], tape.inputs[i], tape.onednn[i]
        if onednn:
            g = g.contiguous()
        if weight_grads:
            w_grad = onednn_weight_grad(g, x) if onednn else g.t().mm(x)
            grads += [(layer.weight, w_grad), (layer.bias, g.sum(0))]
        if i > 0:
            g = onednn_input_grad(g, layer.weight) if onednn else g.mm(layer.weight)
            g = activation_grad(g, x, tape.activation)  # x: the previous layer's activated output
    if input_grad_from is None:
        return grads, None
    return grads, g.mm(tape.layers[0].weight[:, input_grad_from:])


def set_grads(grads: list[tuple[nn.Parameter, Tensor]]) -> None:
    """As zero_grad(set_to_none=True) and backward() would leave them."""
    for param, grad in grads:
        param.grad = grad


@torch.no_grad()
def critic_loss_and_grads(
    learner: Learner, batch: ReplayBatch, noise: Tensor
) -> tuple[Tensor, Tensor]:
    """td3.critic_loss with its gradient set on the critic's parameters."""
    hp, critic, target = learner.hp, learner.critic, learner.critic_target
    actor_target = learner.actor_target
    z, _ = mlp_forward(
        actor_target.net, normalised(actor_target, batch.next_obs), actor_target.activation
    )
    clipped = (noise * hp.target_policy_noise).clamp_(-hp.target_noise_clip, hp.target_noise_clip)
    next_action = z.tanh_().add_(clipped).clamp_(-1.0, 1.0)

    x_next = torch.cat([normalised(target, batch.next_obs), next_action], dim=-1)
    next_q = torch.minimum(*(mlp_forward(q, x_next, target.activation)[0] for q in target.q_nets))
    target_q = batch.rewards + (1.0 - batch.dones) * hp.gamma * next_q

    x = torch.cat([normalised(critic, batch.obs), batch.actions], dim=-1)
    n = x.shape[0]
    loss = q_sum = None
    grads: list[tuple[nn.Parameter, Tensor]] = []
    for q_net in critic.q_nets:
        q, tape = mlp_forward(q_net, x, critic.activation)
        error = q - target_q
        mse = error.square().mean()
        loss = mse if loss is None else loss + mse
        q_sum = q.sum() if q_sum is None else q_sum + q.sum()
        grads += mlp_backward(tape, error.mul_(2.0 / n))[0]  # d mean(e^2) / d q
    set_grads(grads)
    return loss, q_sum / (2 * n)


@torch.no_grad()
def actor_loss_and_grads(learner: Learner, obs: Tensor) -> Tensor:
    """td3.actor_loss with its gradient set on the actor's parameters; the critic's weights get
    no gradient (Q1 is only differentiated in the action)."""
    actor, critic, actor_l2 = learner.actor, learner.critic, learner.hp.actor_l2
    z, actor_tape = mlp_forward(actor.net, normalised(actor, obs), actor.activation)
    action = z.tanh_()
    q1, q_tape = mlp_forward(
        critic.q_nets[0], torch.cat([normalised(critic, obs), action], dim=-1), critic.activation
    )
    n = q1.shape[0]
    if actor_l2:
        scale = q1.abs().mean().clamp_min(1e-8)
        loss = -q1.mean() / scale + actor_l2 * action.square().mean()
        dq = torch.full_like(q1, -1.0 / n) / scale
    else:
        loss = -q1.mean()
        dq = torch.full_like(q1, -1.0 / n)
    _, d_action = mlp_backward(q_tape, dq, weight_grads=False, input_grad_from=obs.shape[1])
    if actor_l2:
        d_action = d_action + action * (2.0 * actor_l2 / action.numel())
    grads, _ = mlp_backward(actor_tape, _aten.tanh_backward(d_action, action))
    set_grads(grads)
    return loss
