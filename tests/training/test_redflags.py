"""Each red flag fires on its bad stream and stays quiet on a healthy one."""

import math
from pathlib import Path

import pytest

from soccer_td3.training.redflags import RedFlagMonitor, RedFlagThresholds
from tests.cli_helpers import soccer_td3

T = RedFlagThresholds(window=1000, loss_growth=100.0, q_limit=1e4, min_fps=10.0)


def feed(rows, learning_starts=0, **kwargs) -> set[str]:
    monitor = RedFlagMonitor(T, learning_starts, **kwargs)
    fired = set()
    for step, row in rows:
        for flag in monitor.check(step, row):
            assert flag.name not in fired  # each fires once
            fired.add(flag.name)
    return fired


def stream(reward, critic, q=1.0, fps=100.0, n=40):
    return [
        (
            100 * (i + 1),
            {
                "rollout/ep_rew_mean": reward(i),
                "train/critic_loss": critic(i),
                "train/actor_loss": -q,
                "train/q_mean": q,
                "time/fps": fps,
            },
        )
        for i in range(n)
    ]


def test_healthy_stream_is_quiet():
    assert feed(stream(reward=lambda i: 10 + i, critic=lambda i: 1.0 + 0.01 * i)) == set()


def test_flat_and_falling_reward_fire():
    assert feed(stream(reward=lambda i: 5.0, critic=lambda i: 1.0)) == {"flat_reward"}
    assert feed(stream(reward=lambda i: 50 - i, critic=lambda i: 1.0)) == {"flat_reward"}


def test_flat_reward_waits_for_learning_to_start():
    assert feed(stream(reward=lambda i: 5.0, critic=lambda i: 1.0), learning_starts=10**6) == set()


def test_exploding_loss_and_q_fire():
    assert "exploding_loss" in feed(stream(lambda i: 10 + i, critic=lambda i: 1.0 * 2**i))
    assert "exploding_loss" in feed(stream(lambda i: 10 + i, lambda i: 1.0, q=1e6))


def test_non_finite_fires():
    rows = stream(lambda i: 10 + i, lambda i: 1.0 if i < 30 else math.nan)
    assert "non_finite" in feed(rows)


def test_slow_training_and_cpu_beside_a_gpu_fire():
    assert feed(stream(lambda i: 10 + i, lambda i: 1.0, fps=3.0)) == {"slow"}
    assert feed(stream(lambda i: 10 + i, lambda i: 1.0), cpu_with_cuda_available=True) == {"slow"}


@pytest.mark.parametrize("strict", [False, True])
def test_absurd_lr_raises_the_exploding_flag(tmp_path: Path, strict: bool):
    run = tmp_path / "run"
    args = [
        "train",
        "--save_dir",
        str(run),
        "--learning-rate",
        "10",  # 1.0 explodes at once or not at all depending on the run's random draws
        "--timesteps",
        "400",
        "--learning-starts",
        "100",
        "--log-interval",
        "50",
        "--batch-size",
        "64",
        "--redflag-window",
        "1000",
        "--checkpoint-freq",
        "0",
        "--net",
        "64,64",
    ]
    result = soccer_td3(*args, *(["--strict-redflags"] if strict else []))
    log = (run / "redflags.log").read_text()
    assert "exploding_loss" in log, result.stderr
    if strict:
        assert result.returncode == 3, result.stderr
        assert (run / "checkpoints" / "latest").is_file()
    else:
        assert result.returncode in (0, 2), result.stderr  # 2: losses then went non-finite
