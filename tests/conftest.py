import pytest

from soccer_td3.config import TrainConfig


@pytest.fixture
def tiny_config() -> TrainConfig:
    """A real run small enough for a test: 300 steps, updates from step 100, small nets."""
    return TrainConfig(
        timesteps=300,
        learning_starts=100,
        batch_size=32,
        log_interval=100,
        actor_net=[64, 64],
        critic_net=[64, 64],
        device="cpu",
    )
