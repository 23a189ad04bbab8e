"""--init-from: SB3 TD3 .zip and soccer_td3 weights, checked before anything trains."""

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from soccer_td3.agent.weights import ACTOR_FILE, load_actor
from soccer_td3.config import TrainConfig
from soccer_td3.envs.registry import make_env
from soccer_td3.errors import UserError
from soccer_td3.training.loop import load_init_weights, train

TASK = "LowerT1GoaliePenaltyKick-v0"


@pytest.fixture(scope="module")
def sb3_model(tmp_path_factory):
    from stable_baselines3 import TD3

    env = make_env(TASK, seed=0)
    model = TD3(
        "MlpPolicy",
        env,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": {"pi": [64, 32], "qf": [64, 32]}},
    )
    path = tmp_path_factory.mktemp("sb3") / "td3_goalie.zip"
    model.save(path)
    env.close()
    return model, path


def no_update_config(init_from: Path, **overrides) -> TrainConfig:
    """A run that only collects (learning_starts = timesteps): its final weights are the init."""
    values = dict(
        env=[TASK],
        timesteps=20,
        learning_starts=20,
        actor_net=[64, 32],
        critic_net=[64, 32],
        device="cpu",
        init_from=str(init_from),
        log_interval=20,
    )
    return TrainConfig(**(values | overrides))


def test_sb3_zip_actor_acts_like_sb3_predict(sb3_model, tmp_path: Path):
    model, path = sb3_model
    final = train(no_update_config(path), tmp_path / "run")
    actor = load_actor(final / ACTOR_FILE)
    env = make_env(TASK, seed=3)
    obs, _ = env.reset(seed=3)
    observations = [obs]
    for _ in range(30):
        obs, *_ = env.step(env.action_space.sample())
        observations.append(obs)
    env.close()
    batch = np.stack(observations)
    expected, _ = model.predict(batch, deterministic=True)
    with torch.no_grad():
        ours = actor.to_env_units(actor(torch.as_tensor(batch))).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_sb3_zip_critics_are_loaded_too(sb3_model):
    model, path = sb3_model
    init = load_init_weights(no_update_config(path))
    assert init.critic is not None
    torch.testing.assert_close(
        init.critic["q_nets.1.0.weight"], model.policy.state_dict()["critic.qf1.0.weight"]
    )


def test_soccer_td3_run_folder_round_trips(tiny_config, tmp_path: Path):
    first = train(tiny_config, tmp_path / "a")
    second = train(
        no_update_config(tmp_path / "a", actor_net=[64, 64], critic_net=[64, 64]), tmp_path / "b"
    )
    a, b = load_actor(first / ACTOR_FILE), load_actor(second / ACTOR_FILE)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_bad_sources_are_user_errors(sb3_model, tmp_path: Path):
    _, path = sb3_model
    with pytest.raises(UserError, match="does not exist"):
        load_init_weights(no_update_config(tmp_path / "nope.zip"))
    with pytest.raises(UserError, match=r"shape \[64, 45\].*needs \[128, 45\]"):
        load_init_weights(no_update_config(path, actor_net=[128, 32]))
    with pytest.raises(UserError, match="layers differ"):
        load_init_weights(no_update_config(path, actor_net=[64, 32, 16]))
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as archive:
        archive.writestr("data", "{}")
    with pytest.raises(UserError, match=r"without policy\.pth"):
        load_init_weights(no_update_config(junk))
    (tmp_path / "notzip.zip").write_text("hello")
    with pytest.raises(UserError, match="not a readable zip"):
        load_init_weights(no_update_config(tmp_path / "notzip.zip"))
