from collections import deque

import pytest
import torch

from soccer_td3.training.stats import EPISODE_WINDOW, EpisodeStats, LossAccumulator


def _episode(i: float) -> dict[str, float]:
    return {"return": i, "length": 10 + i, "env_return": i / 2, "shaping/fall": -1.0}


def test_episode_fields_map_to_sb3_names_and_shaping_keeps_its_own():
    stats = EpisodeStats.empty()
    for i in range(3):
        stats.add(_episode(float(i)))
    assert stats.metrics() == {
        "rollout/ep_rew_mean": 1.0,
        "rollout/ep_len_mean": 11.0,
        "rollout/env_rew_mean": 0.5,
        "shaping/fall": -1.0,
    }
    per_task = stats.metrics("rollout/LowerT1KickToTarget-v0")
    assert per_task["rollout/LowerT1KickToTarget-v0/shaping/fall"] == -1.0


def test_window_keeps_the_last_100_episodes_and_survives_a_checkpoint():
    stats = EpisodeStats.empty()
    for i in range(EPISODE_WINDOW + 20):
        stats.add(_episode(float(i)))
    assert stats.count == EPISODE_WINDOW + 20
    assert stats.metrics()["rollout/ep_rew_mean"] == pytest.approx(20 + (EPISODE_WINDOW - 1) / 2)
    again = EpisodeStats.from_dict(stats.to_dict())
    assert again.metrics() == stats.metrics() and again.count == stats.count
    again.add(_episode(1000.0))
    assert len(again.window["return"]) == EPISODE_WINDOW


def test_checkpoints_from_before_shaping_still_load():
    old = {"returns": [1.0, 3.0], "lengths": [5, 7], "successes": [], "count": 2}
    stats = EpisodeStats.from_dict(old)
    assert stats.metrics() == {"rollout/ep_rew_mean": 2.0, "rollout/ep_len_mean": 6.0}
    assert isinstance(stats.window["return"], deque)


def test_losses_are_averaged_per_key_and_drained():
    losses = LossAccumulator()
    losses.add({"train/critic_loss": torch.tensor(1.0), "train/actor_loss": torch.tensor(-2.0)})
    losses.add({"train/critic_loss": torch.tensor(3.0)})
    assert losses.drain() == {"train/critic_loss": 2.0, "train/actor_loss": -2.0}
    assert losses.drain() == {}
