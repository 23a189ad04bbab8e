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
    for k, net in enumerate(critic.q_nets):
        x = torch.cat([obs, act], dim=1)
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        assert [layer.out_features for layer in linears] == [64, 32, 1]
        for i, layer in enumerate(linears):
            x = layer(x)
            x = F.relu(x) if i < len(linears) - 1 else x
        torch.testing.assert_close(q[k], x)
    assert not torch.allclose(q[0], q[1])


def test_q1_through_action_gives_q1_and_gradients_only_to_the_action():
    critic = TwinCritic(45, 12, [64, 32])
    obs, act = torch.randn(8, 45), torch.randn(8, 12, requires_grad=True)
    q1 = critic.q1_through_action(obs, act)
    torch.testing.assert_close(q1, critic(obs, act)[0])
    q1.sum().backward()
    assert act.grad is not None and act.grad.abs().sum() > 0
    assert all(p.grad is None for p in critic.parameters())
