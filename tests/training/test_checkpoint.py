"""Checkpoints and resume: a kill costs at most one interval, a resume continues exactly."""

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from soccer_td3.agent.replay import ReplayBuffer
from soccer_td3.errors import UserError
from soccer_td3.training.checkpoint import load_checkpoint, restore, save_checkpoint
from soccer_td3.training.settings import build_learner
from tests.cli_helpers import assert_one_line_error, soccer_td3
from tests.conftest import tiny

SMALL = [
    "--net",
    "64,64",
    "--batch-size",
    "32",
    "--learning-starts",
    "100",
    "--log-interval",
    "100",
    "--device",
    "cpu",
]


def start_training(run: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "soccer_td3", "train", "--save_dir", str(run), *SMALL, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoint(run: Path, process: subprocess.Popen, at_least: int) -> None:
    deadline = time.time() + 240
    latest = run / "checkpoints" / "latest"
    while time.time() < deadline:
        if latest.is_file() and int(latest.read_text().removeprefix("step_")) >= at_least:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise AssertionError("no checkpoint in time")


def progress_steps(run: Path) -> list[int]:
    with (run / "progress.csv").open() as handle:
        return [int(r["time/total_timesteps"]) for r in csv.DictReader(handle)]


def test_sigkill_then_resume_finishes_with_the_right_steps(tmp_path: Path):
    run = tmp_path / "run"
    process = start_training(run, "--timesteps", "100000", "--checkpoint-freq", "200")
    wait_for_checkpoint(run, process, 400)
    process.send_signal(signal.SIGKILL)
    process.wait()
    checkpoint = load_checkpoint(run)
    step = checkpoint.state["step"]
    assert checkpoint.buffer["rows"].shape[0] == step == checkpoint.state["buffer_size"]

    result = soccer_td3("train", "--resume", str(run), "--timesteps", str(step + 300))
    assert result.returncode == 0, result.stderr
    steps = progress_steps(run)
    assert steps[-1] == step + 300
    assert steps == sorted(set(steps))  # strictly increasing: no duplicate, no gap below
    assert steps == list(range(100, step + 301, 100))


def test_sigterm_writes_a_checkpoint_and_exits_0(tmp_path: Path):
    run = tmp_path / "run"
    process = start_training(run, "--timesteps", "100000", "--checkpoint-freq", "0")
    deadline = time.time() + 120
    while not (run / "progress.csv").is_file() or len(progress_steps(run)) < 2:
        assert time.time() < deadline and process.poll() is None
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Resume with: soccer-td3 train --resume" in out
    checkpoint = load_checkpoint(run)
    assert checkpoint.state["step"] >= 200


@pytest.mark.parametrize(
    "settings", [{}, {"control": "pd", "decimation": 10, "obs_norm": True}], ids=["torque", "pd"]
)
def test_restore_is_bitwise(tmp_path: Path, settings: dict):
    config = tiny(cpu_matmul="onednn", **settings)
    torch.manual_seed(0)
    learner = build_learner(config, 45, 12, -np.ones(12), np.ones(12), "cpu")
    learner.observe(torch.randn(300, 45) * 3 + 1)  # obs_norm statistics (a no-op without)
    buffer = ReplayBuffer(500, 45, 12)
    rng = np.random.default_rng(0)
    buffer.add(
        rng.normal(size=(300, 45)),
        rng.uniform(-1, 1, (300, 12)),
        rng.normal(size=300),
        rng.normal(size=(300, 45)),
        rng.uniform(size=300) < 0.1,
    )
    for _ in range(7):
        learner.update(buffer.sample(32))
    save_checkpoint(tmp_path, 300, learner, buffer, {"tasks": config.env})

    torch.manual_seed(1)
    fresh = build_learner(config, 45, 12, -np.ones(12), np.ones(12), "cpu")
    fresh_buffer = ReplayBuffer(500, 45, 12)
    restore(load_checkpoint(tmp_path), fresh, fresh_buffer)
    for name in ("actor", "critic", "actor_target", "critic_target"):
        for a, b in zip(
            getattr(learner, name).state_dict().values(),
            getattr(fresh, name).state_dict().values(),
            strict=True,
        ):
            assert torch.equal(a, b), name
    for name in ("actor_optimizer", "critic_optimizer"):
        ours = getattr(learner, name).state_dict()["state"]
        theirs = getattr(fresh, name).state_dict()["state"]
        assert ours.keys() == theirs.keys()
        for index in ours:
            for key in ("exp_avg", "exp_avg_sq", "step"):
                assert torch.equal(ours[index][key], theirs[index][key]), (name, index, key)
    assert torch.equal(fresh_buffer.storage, buffer.storage)
    assert (fresh_buffer.pos, len(fresh_buffer), fresh.n_updates) == (300, 300, 7)


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    result = soccer_td3(
        "train", "--save_dir", str(run), *SMALL, "--timesteps", "200", "--checkpoint-freq", "200"
    )
    assert result.returncode == 0, result.stderr
    return run


def test_bad_resumes_are_one_line_and_exit_2(finished_run: Path, tmp_path: Path):
    checkpoint = finished_run / "checkpoints" / "step_200"
    before = (finished_run / "progress.csv").read_text()
    config_before = (finished_run / "config.yaml").read_text()
    cases = [
        (["--resume", str(tmp_path / "nowhere")], "does not exist"),
        (["--resume", str(finished_run), "--net", "32"], "shape"),
        (["--resume", str(finished_run), "--env", "LowerT1KickToTarget-v0"], "from tasks"),
    ]
    for args, words in cases:
        assert_one_line_error(soccer_td3("train", *args, "--timesteps", "400"), words)
    nets = checkpoint / "nets.safetensors"
    nets.write_bytes(nets.read_bytes()[:100])  # truncated by a crash mid-copy, say
    assert_one_line_error(
        soccer_td3("train", "--resume", str(finished_run), "--timesteps", "400"), "unreadable"
    )
    assert (finished_run / "progress.csv").read_text() == before  # nothing overwritten
    assert (finished_run / "config.yaml").read_text() == config_before
    with pytest.raises(UserError, match="holds no checkpoint"):
        load_checkpoint(tmp_path)


def test_a_full_disk_is_one_error_and_the_previous_checkpoint_stays(tmp_path, monkeypatch):
    config = tiny(cpu_matmul="onednn")
    learner = build_learner(config, 45, 12, -np.ones(12), np.ones(12), "cpu")
    buffer = ReplayBuffer(100, 45, 12)
    buffer.add(
        np.zeros((10, 45)), np.zeros((10, 12)), np.zeros(10), np.zeros((10, 45)), np.zeros(10)
    )
    first = save_checkpoint(tmp_path, 10, learner, buffer, {"tasks": config.env})
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(1, 1, 0))
    with pytest.raises(UserError, match="not enough disk"):
        save_checkpoint(tmp_path, 20, learner, buffer, {"tasks": config.env})
    assert load_checkpoint(tmp_path).path == first
    assert not (tmp_path / "checkpoints" / "step_20").exists()


def test_non_finite_losses_stop_with_the_quantity_step_and_advice(tmp_path: Path):
    from soccer_td3.training.loop import train

    with pytest.raises(UserError, match=r"train/\w+ became (nan|inf).*learning_rate to 1e-4"):
        train(tiny(learning_rate=1e30), tmp_path)
