from pathlib import Path

import pytest
import torch

from soccer_td3.agent.networks import Actor, TwinCritic
from soccer_td3.agent.weights import ACTOR_FILE, load_actor, read_weight_file, save_weights
from soccer_td3.errors import UserError

LOW, HIGH = [-45.0, -30.0, -15.0], [45.0, 30.0, 15.0]


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Actor]:
    actor = Actor(7, 3, [16, 8], LOW, HIGH)
    save_weights(
        tmp_path, actor, TwinCritic(7, 3, [16]), {"tasks": ["LowerT1GoaliePenaltyKick-v0"]}
    )
    return tmp_path, actor


def test_actor_round_trips_with_its_arch_and_bounds(saved):
    folder, actor = saved
    loaded = load_actor(folder / ACTOR_FILE, expect_obs_dim=7, expect_act_dim=3)
    obs = torch.randn(4, 7)
    assert torch.equal(loaded(obs), actor(obs))
    assert torch.equal(loaded.to_env_units(torch.ones(3)), torch.tensor(HIGH))
    _, meta = read_weight_file(folder / ACTOR_FILE)
    assert meta["hidden"] == [16, 8] and meta["tasks"] == ["LowerT1GoaliePenaltyKick-v0"]


def test_size_mismatch_names_both_shapes(saved):
    folder, _ = saved
    with pytest.raises(UserError, match=r"obs 7 -> action 3.*obs 45 -> action 12"):
        load_actor(folder / ACTOR_FILE, expect_obs_dim=45, expect_act_dim=12)


def test_missing_and_corrupt_files_are_user_errors(tmp_path: Path, saved):
    with pytest.raises(UserError, match="does not exist"):
        load_actor(tmp_path / "nope.safetensors")
    folder, _ = saved
    data = (folder / ACTOR_FILE).read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="not a readable safetensors"):
        load_actor(tmp_path / "cut.safetensors")


def test_saving_again_replaces_the_folder_whole_and_leaves_no_staging(tmp_path: Path):
    actor = Actor(5, 2, [8], [-1, -1], [1, 1])
    critic = TwinCritic(5, 2, [8])
    save_weights(tmp_path / "best", actor, critic, {"tasks": ["a"]})
    (tmp_path / "best" / "stale.txt").write_text("from an older save")
    with torch.no_grad():
        actor.net[0].weight.fill_(0.5)
    save_weights(tmp_path / "best", actor, critic, {"tasks": ["b"]})
    assert sorted(p.name for p in (tmp_path / "best").iterdir()) == [
        "actor.safetensors",
        "critic.safetensors",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]
    assert torch.all(load_actor(tmp_path / "best" / ACTOR_FILE).net[0].weight == 0.5)
