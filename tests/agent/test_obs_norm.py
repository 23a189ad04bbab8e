"""ObsNormalizer: running statistics equal numpy's, applied inside the networks, clipped."""

import numpy as np
import torch

from soccer_td3.agent.networks import Actor, TwinCritic
from soccer_td3.agent.obs_norm import ObsNormalizer
from soccer_td3.envs.registry import make_env


def real_observations(n: int = 300) -> np.ndarray:
    env = make_env("LowerT1GoaliePenaltyKick-v0", seed=0)
    obs, _ = env.reset(seed=0)
    rows = []
    for _ in range(n):
        rows.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    return np.stack(rows)


def test_statistics_equal_numpys_over_batches_of_any_size():
    observations = real_observations()
    norm = ObsNormalizer(observations.shape[1], clip=10.0)
    start = 0
    for size in (1, 7, 32, 1, 100, 159):  # 300 in all, as a vector env would hand them over
        norm.update(torch.as_tensor(observations[start : start + size], dtype=torch.float32))
        start += size
    seen = observations.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(norm.mean.numpy(), seen.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(norm.var.numpy(), seen.var(0), rtol=1e-9, atol=1e-12)
    assert float(norm.count) == 300


def test_normalised_inputs_are_centred_and_clipped():
    norm = ObsNormalizer(3, clip=2.0)
    norm.update(torch.tensor([[0.0, 10.0, -1.0], [2.0, 10.0, 1.0]]))
    out = norm(torch.tensor([[1.0, 10.0, 100.0]]))
    np.testing.assert_allclose(out.numpy(), [[0.0, 0.0, 2.0]], atol=1e-4)


def test_the_networks_read_normalised_observations_and_carry_the_statistics():
    actor = Actor(3, 2, [8], [-1, -1], [1, 1], obs_norm_clip=5.0)
    critic = TwinCritic(3, 2, [8], obs_norm_clip=5.0)
    obs = torch.tensor([[100.0, -50.0, 3.0]])
    before = actor(obs)
    for net in (actor, critic):
        net.obs_norm.update(torch.tensor([[100.0, -50.0, 3.0], [102.0, -48.0, 5.0]]))
    assert not torch.equal(actor(obs), before)
    assert {"obs_norm.mean", "obs_norm.var", "obs_norm.count", "obs_norm.clip"} <= set(
        actor.state_dict()
    )
    plain = Actor(3, 2, [8], [-1, -1], [1, 1])
    assert plain.obs_norm is None and "obs_norm.mean" not in plain.state_dict()
