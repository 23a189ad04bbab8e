import torch
import torch.nn.functional as F

from soccer_td3.agent.networks import Actor, TwinCritic

LOW = [-45.0, -45.0, -30.0, -65.0, -24.0, -15.0] * 2
HIGH = [45.0, 45.0, 30.0, 65.0, 24.0, 15.0] * 2


def test_actor_outputs_normalised_actions_and_rescales_to_the_torque_bounds():
    actor = Actor(45, 12, [64, 32], LOW, HIGH)
    action = actor(torch.randn(100, 45) * 100)
    assert action.shape == (100, 12) and action.abs().max() <= 1.0
    assert torch.equal(actor.to_env_units(torch.ones(12)), torch.tensor(HIGH))
    assert torch.equal(actor.to_env_units(-torch.ones(12)), torch.tensor(LOW))
    assert torch.equal(actor.to_env_units(torch.zeros(12)), torch.zeros(12))


def test_twin_critic_is_two_independent_mlps_on_obs_and_action():
    torch.manual_seed(0)
    critic = TwinCritic(45, 12, [64, 32])
    obs, act = torch.randn(8, 45), torch.randn(8, 12)
    q = critic(obs, act)
    assert q.shape == (2, 8, 1)
    for k in range(2):
        x = torch.cat([obs, act], dim=1)
        for i, (w, b) in enumerate(zip(critic.weights, critic.biases, strict=True)):
            x = x @ w[k] + b[k]
            x = F.relu(x) if i < len(critic.weights) - 1 else x
        torch.testing.assert_close(q[k], x)
    assert not torch.allclose(q[0], q[1])
    torch.testing.assert_close(critic.q1(obs, act), q[0])


def test_critic_init_matches_nn_linear_scale():
    critic = TwinCritic(45, 12, [512])
    bound = 1 / (45 + 12) ** 0.5
    assert critic.weights[0].abs().max() <= bound
    assert critic.weights[0].abs().max() > 0.9 * bound
