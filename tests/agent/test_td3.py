import torch

from soccer_td3.agent.replay import ReplayBatch
from soccer_td3.agent.td3 import (
    TD3Learner,
    critic_target_value,
    smoothed_target_action,
    td3_update,
)
from soccer_td3.config import TrainConfig
from soccer_td3.training.settings import learner_settings

OBS, ACT = 10, 4


def _learner(lr: float = 3e-4, **hp) -> TD3Learner:
    torch.manual_seed(0)
    settings = learner_settings(TrainConfig(**hp))
    return TD3Learner.build(
        OBS,
        ACT,
        [-2.0] * ACT,
        [2.0] * ACT,
        [32, 32],
        [32, 32],
        settings.hp,
        settings.acceleration,
        learning_rate=lr,
    )


def _batch(
    n: int = 64, dones: torch.Tensor | None = None, obs: int = OBS, act: int = ACT
) -> ReplayBatch:
    g = torch.Generator().manual_seed(1)
    return ReplayBatch(
        torch.randn(n, obs, generator=g),
        torch.rand(n, act, generator=g) * 2 - 1,
        torch.randn(n, 1, generator=g),
        torch.randn(n, obs, generator=g),
        torch.zeros(n, 1) if dones is None else dones,
    )


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_target_noise_stays_within_the_clip():
    learner = _learner(target_policy_noise=10.0, target_noise_clip=0.3)
    next_obs = torch.randn(5000, OBS)
    clean = learner.actor_target(next_obs)
    noise = torch.randn(5000, ACT)
    smoothed = smoothed_target_action(learner.actor_target, next_obs, noise, learner.hp)
    deviation = (smoothed - clean).abs()
    assert deviation.max() <= 0.3 + 1e-6
    assert deviation.max() > 0.29  # the clip is active, not the noise small
    assert smoothed.abs().max() <= 1.0


def test_actor_updates_only_every_policy_delay_steps():
    learner = _learner(policy_delay=2)
    batch = _batch()
    for step in range(1, 7):
        actor_before, critic_before = _params(learner.actor), _params(learner.critic)
        metrics = learner.update(batch)
        assert _changed(critic_before, learner.critic)
        assert _changed(actor_before, learner.actor) == (step % 2 == 0)
        assert ("train/actor_loss" in metrics) == (step % 2 == 0)


def test_target_nets_move_by_polyak_after_an_actor_step():
    tau = 0.1
    learner = _learner(tau=tau)
    # Make targets differ from online nets so the average is visible.
    with torch.no_grad():
        for p in [*learner.actor_target.parameters(), *learner.critic_target.parameters()]:
            p.add_(torch.randn_like(p))
    old_actor_t, old_critic_t = _params(learner.actor_target), _params(learner.critic_target)
    td3_update(learner, _batch(), update_actor=True)
    for old, online, new in zip(
        old_actor_t, learner.actor.parameters(), learner.actor_target.parameters(), strict=True
    ):
        torch.testing.assert_close(new, tau * online.detach() + (1 - tau) * old)
    for old, online, new in zip(
        old_critic_t, learner.critic.parameters(), learner.critic_target.parameters(), strict=True
    ):
        torch.testing.assert_close(new, tau * online.detach() + (1 - tau) * old)


def test_targets_stay_put_on_a_critic_only_step():
    learner = _learner()
    before = _params(learner.actor_target) + _params(learner.critic_target)
    td3_update(learner, _batch(), update_actor=False)
    after = _params(learner.actor_target) + _params(learner.critic_target)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_critic_target_takes_the_min_of_both_qs_and_bootstraps_unless_terminated():
    learner = _learner()
    dones = torch.zeros(64, 1)
    dones[::2] = 1.0
    batch = _batch(dones=dones)
    next_action = torch.rand(64, ACT) * 2 - 1
    with torch.no_grad():
        q = learner.critic_target(batch.next_obs, next_action)
        assert not torch.allclose(q[0], q[1])
        target = critic_target_value(learner.critic_target, batch, next_action, gamma=0.9)
    expected = batch.rewards + 0.9 * torch.minimum(q[0], q[1])
    torch.testing.assert_close(target[1::2], expected[1::2])
    torch.testing.assert_close(target[::2], batch.rewards[::2])  # no bootstrap on termination


def test_repeated_updates_fit_a_fixed_batch():
    learner = _learner(lr=3e-3, gamma=0.0)  # pure regression to the rewards
    batch = _batch()
    first = learner.update(batch)["train/critic_loss"].item()
    for _ in range(300):
        last = learner.update(batch)["train/critic_loss"].item()
    assert last < 0.2 * first


def test_actor_l2_is_normalised_q_plus_the_action_penalty_and_pulls_the_actor_to_zero():
    from soccer_td3.agent.td3 import actor_loss

    obs = _batch().obs
    plain, held = _learner(), _learner(actor_l2=5.0)
    with torch.no_grad():
        action = held.actor(obs)
        q1 = held.critic.q1_through_action(obs, action)
        want = -q1.mean() / q1.abs().mean() + 5.0 * action.pow(2).mean()
        assert torch.allclose(actor_loss(held, obs), want)
        assert torch.allclose(actor_loss(plain, obs), -q1.mean())  # same seed, same nets
    for _ in range(200):
        for learner in (plain, held):
            td3_update(learner, _batch(), update_actor=True)
    with torch.no_grad():
        assert held.actor(obs).abs().mean() < 0.5 * plain.actor(obs).abs().mean()
