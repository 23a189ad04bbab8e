import os
import tempfile
from pathlib import Path

import pytest

from soccer_td3.config import TrainConfig

# cpu_matmul auto caches its measurement under XDG_CACHE_HOME: tests (and the CLI processes
# they start) measure into a folder of their own, never the user's cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="soccer_td3_cache_")

TWO_TASKS = ["LowerT1GoaliePenaltyKick-v0", "LowerT1KickToTarget-v0"]


def tiny(**overrides) -> TrainConfig:
    """A real run small enough for a test: 300 steps, updates from step 100, small nets."""
    values = dict(
        timesteps=300,
        learning_starts=100,
        batch_size=32,
        log_interval=100,
        actor_net=[64, 64],
        critic_net=[64, 64],
        device="cpu",
    )
    return TrainConfig(**(values | overrides))


@pytest.fixture
def tiny_config() -> TrainConfig:
    return tiny()


@pytest.fixture(scope="session")
def two_task_run(tmp_path_factory) -> Path:
    """A finished 300-step run of one agent on goalie + kick-to-target (feature observations)."""
    from soccer_td3.training.loop import train

    run = tmp_path_factory.mktemp("two_task") / "run"
    train(tiny(env=TWO_TASKS), run)
    return run
