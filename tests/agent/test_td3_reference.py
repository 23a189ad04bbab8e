"""The fast update is the same maths as a straightforward two-network TD3 (SB3's layout)."""

import copy
from itertools import pairwise

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from soccer_td3.agent.replay import ReplayBatch
from soccer_td3.agent.td3 import Acceleration, TD3Learner, td3_update
from soccer_td3.config import TrainConfig
from soccer_td3.training.settings import learner_settings

OBS, ACT, B = 45, 12, 256
HP = learner_settings(TrainConfig()).hp
FP32 = Acceleration("fp32", compile=False)


def reference_mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(pairwise(dims)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def reference_from(learner: TD3Learner) -> dict[str, nn.Module]:
    """Plain nn.Sequential actor, two critics and targets, with copies of the learner's weights."""
    nets = {}
    for name, ours in (("actor", learner.actor.net), ("actor_target", learner.actor_target.net)):
        nets[name] = copy.deepcopy(ours).requires_grad_(True)
    for prefix, critic in (("q", learner.critic), ("q_target", learner.critic_target)):
        for k in range(2):
            ref = reference_mlp([OBS + ACT, 512, 256, 128, 64, 1])
            ref.load_state_dict(critic.q_nets[k].state_dict())
            nets[f"{prefix}{k}"] = ref
    return nets


def batch() -> ReplayBatch:
    g = torch.Generator().manual_seed(5)
    dones = (torch.rand(B, 1, generator=g) < 0.1).float()
    return ReplayBatch(
        torch.randn(B, OBS, generator=g),
        torch.rand(B, ACT, generator=g) * 2 - 1,
        torch.randn(B, 1, generator=g),
        torch.randn(B, OBS, generator=g),
        dones,
    )


def learner_with_trained_targets(acceleration: Acceleration) -> TD3Learner:
    torch.manual_seed(0)
    learner = TD3Learner.build(
        OBS,
        ACT,
        [-1.0] * ACT,
        [1.0] * ACT,
        [512, 256, 128, 64],
        [512, 256, 128, 64],
        HP,
        acceleration,
        learning_rate=3e-4,
    )
    with torch.no_grad():  # targets differ from the online nets, as they do mid-training
        for p in [*learner.actor_target.parameters(), *learner.critic_target.parameters()]:
            p.add_(0.01 * torch.randn_like(p))
    return learner


def test_losses_and_gradients_equal_a_two_network_reference():
    learner = learner_with_trained_targets(FP32)
    ref = reference_from(learner)
    data = batch()

    # Our update, with its noise drawn from a known seed.
    torch.manual_seed(42)
    ours = td3_update(learner, data, update_actor=False)
    critic_grads = [p.grad.clone() for net in learner.critic.q_nets for p in net.parameters()]
    a_loss = -learner.critic.q1_through_action(data.obs, learner.actor(data.obs)).mean()

    # Reference, the way SB3 writes it, with the same noise.
    torch.manual_seed(42)
    noise = torch.randn_like(data.actions)
    with torch.no_grad():
        smoothing = (noise * HP.target_policy_noise).clamp(
            -HP.target_noise_clip, HP.target_noise_clip
        )
        next_a = (torch.tanh(ref["actor_target"](data.next_obs)) + smoothing).clamp(-1, 1)
        x = torch.cat([data.next_obs, next_a], 1)
        next_q = torch.min(ref["q_target0"](x), ref["q_target1"](x))
        target = data.rewards + (1 - data.dones) * HP.gamma * next_q
    x = torch.cat([data.obs, data.actions], 1)
    ref_loss = F.mse_loss(ref["q0"](x), target) + F.mse_loss(ref["q1"](x), target)
    ref_loss.backward()
    ref_critic_grads = [p.grad for k in range(2) for p in ref[f"q{k}"].parameters()]

    assert ours["train/critic_loss"].item() == pytest.approx(ref_loss.item(), rel=1e-5, abs=1e-6)
    for got, want in zip(critic_grads, ref_critic_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)

    # Actor: after the critic step, reference copies the stepped critic; compare loss and grads.
    ref["q0"].load_state_dict(learner.critic.q_nets[0].state_dict())
    ref_a_loss = -ref["q0"](torch.cat([data.obs, torch.tanh(ref["actor"](data.obs))], 1)).mean()
    ref_a_loss.backward()
    a_loss.backward()
    assert a_loss.item() == pytest.approx(ref_a_loss.item(), rel=1e-5, abs=1e-6)
    for got, want in zip(learner.actor.parameters(), ref["actor"].parameters(), strict=True):
        torch.testing.assert_close(got.grad, want.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "acceleration",
    [Acceleration("bf16", False), Acceleration("fp32", True)],
)
def test_accelerated_updates_stay_close_to_fp32(acceleration):
    fast = learner_with_trained_targets(acceleration)
    plain = learner_with_trained_targets(FP32)
    data = batch()
    torch.manual_seed(1)
    got = td3_update(fast, data, update_actor=True)
    torch.manual_seed(1)
    want = td3_update(plain, data, update_actor=True)
    tol = 0.05 if acceleration.precision == "bf16" else 1e-4
    for key in ("train/critic_loss", "train/actor_loss"):
        assert torch.isfinite(got[key])
        assert got[key].item() == pytest.approx(want[key].item(), rel=tol, abs=tol)
