"""The hand-written gradients are autograd's: every activation, actor_l2, obs_norm, both CPU
backends, on a batch drawn from a replay buffer (its fields are strided column slices)."""

import copy

import numpy as np
import pytest
import torch

from soccer_td3.agent import backprop, onednn_linear
from soccer_td3.agent.replay import ReplayBuffer
from soccer_td3.agent.td3 import Acceleration, TD3Learner, actor_loss, critic_loss, td3_update
from soccer_td3.config import TrainConfig
from soccer_td3.training.settings import td3_hyperparams

OBS, ACT, N = 45, 12, 64
HIDDEN = [256, 128]  # 256x128 is above oneDNN's size threshold, 57x256 below: both kinds run


def learner(activation: str, actor_l2: float, obs_norm: float | None, backend: str, **acc):
    torch.manual_seed(0)
    built = TD3Learner.build(
        OBS,
        ACT,
        [-1.0] * ACT,
        [1.0] * ACT,
        HIDDEN,
        HIDDEN,
        td3_hyperparams(TrainConfig(actor_l2=actor_l2)),
        Acceleration(**({"precision": "fp32", "compile": False} | acc), cpu_matmul=backend),
        learning_rate=3e-4,
        activation=activation,
        obs_norm_clip=obs_norm,
    )
    with torch.no_grad():  # targets apart from the online nets, as mid-training
        for p in [*built.actor_target.parameters(), *built.critic_target.parameters()]:
            p.add_(0.05 * torch.randn_like(p))
    built.observe(torch.randn(500, OBS) * 3 + 1)  # obs_norm statistics away from (0, 1)
    return built


def replay_batch(n: int = N):
    buffer = ReplayBuffer(1000, OBS, ACT, "cpu")
    rng = np.random.default_rng(3)
    buffer.add(
        rng.normal(size=(1000, OBS)),
        rng.uniform(-1, 1, (1000, ACT)),
        rng.normal(size=1000),
        rng.normal(size=(1000, OBS)),
        rng.random(1000) < 0.1,
    )
    return buffer.sample(n, generator=torch.Generator().manual_seed(4))


def grads(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad for p in module.parameters()]


@pytest.mark.parametrize("backend", ["onednn", "blas"])
@pytest.mark.parametrize("obs_norm", [None, 5.0])
@pytest.mark.parametrize("actor_l2", [0.0, 0.5])
@pytest.mark.parametrize("activation", ["relu", "tanh", "elu"])
def test_hand_gradients_equal_autograd(activation, actor_l2, obs_norm, backend):
    ours = learner(activation, actor_l2, obs_norm, backend)
    ref = copy.deepcopy(ours)
    batch, noise = replay_batch(), torch.randn(N, ACT)

    loss, q_mean = backprop.critic_loss_and_grads(ours, batch, noise)
    ref_loss, ref_q_mean = critic_loss(ref, batch, noise)
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss.detach())
    torch.testing.assert_close(q_mean, ref_q_mean)
    for got, want in zip(grads(ours.critic), grads(ref.critic), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)

    a_loss = backprop.actor_loss_and_grads(ours, batch.obs)
    ref_a_loss = actor_loss(ref, batch.obs)
    ref_a_loss.backward()
    torch.testing.assert_close(a_loss, ref_a_loss.detach())
    for got, want in zip(grads(ours.actor), grads(ref.actor), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # The actor's loss differentiates Q1 in the action only: the critic keeps its own grads.
    for got, want in zip(grads(ours.critic), grads(ref.critic), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_onednn_layers_run_their_three_products_in_onednn(monkeypatch):
    calls = []
    for name in ("onednn_product", "onednn_input_grad", "onednn_weight_grad"):
        real = getattr(onednn_linear, name)
        monkeypatch.setattr(
            backprop, name, lambda *a, real=real, name=name: calls.append(name) or real(*a)
        )
    for backend in ("blas", "onednn"):
        calls.clear()
        built = learner("relu", 0.0, None, backend)
        td3_update(built, replay_batch(), update_actor=True)
        if backend == "blas":
            assert calls == []
        else:  # only the 256x128 layer: critic step, actor step
            assert set(calls) == {"onednn_product", "onednn_input_grad", "onednn_weight_grad"}


@pytest.mark.parametrize(
    ("acceleration", "by_hand"),
    [({}, True), ({"precision": "bf16"}, False), ({"compile": True}, False)],
)
def test_fp32_eager_updates_take_the_hand_gradients_and_the_others_autograd(
    acceleration, by_hand, monkeypatch
):
    built = learner("relu", 0.0, None, "blas", **acceleration)
    assert built.acceleration.gradients_by_hand is by_hand
    used = []
    for name in ("critic_loss_and_grads", "actor_loss_and_grads"):
        real = getattr(backprop, name)
        monkeypatch.setattr(
            f"soccer_td3.agent.td3.{name}", lambda *a, real=real: used.append(1) or real(*a)
        )

    def autograd_critic(*args):
        used.append(0)
        return critic_loss(*args)

    built.critic_loss_fn = autograd_critic
    metrics = td3_update(built, replay_batch(), update_actor=True)
    assert used == ([1, 1] if by_hand else [0])
    assert all(torch.isfinite(v) for v in metrics.values())
