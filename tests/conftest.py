from pathlib import Path

import pytest

from soccer_td3.config import TrainConfig

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


# `make test-fast` (pytest -m "not slow") skips these: each trains, starts CLI processes, runs a
# study or renders video. So does every test that needs a trained run (two_task_run).
SLOW_MODULES = {
    "tests.bench.test_play",
    "tests.reports.test_compare",
    "tests.reports.test_evaluate",
    "tests.reports.test_submission",
    "tests.reports.test_video",
    "tests.test_cli",
    "tests.test_cli_failures",
    "tests.test_export",
    "tests.test_flags",
    "tests.training.test_checkpoint",
    "tests.training.test_loop",
    "tests.training.test_redflags",
    "tests.training.test_settings",
    "tests.tuning.test_command",
    "tests.tuning.test_objective",
    "tests.tuning.test_outputs",
    "tests.tuning.test_storage",
    "tests.tuning.test_worker",
}


def pytest_configure(config):
    """Under `pytest -n 2` (make test) each worker shares the two cores with the other: one
    torch thread each, or their OpenMP threads spin against each other (a run sharing its
    cores with two threads measured up to 27x slower; cores.py)."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__ in SLOW_MODULES or "two_task_run" in item.fixturenames:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a tmpfs of its own, `small_disk(kib)` KiB large, for full-disk cases; the
    test is skipped with the reason where this machine cannot mount one (not root, no
    CAP_SYS_ADMIN). Unmounted at the end."""
    import subprocess

    mounted: list[Path] = []

    def make(kib: int) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()})")
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path, leave_bytes: int) -> None:
    """Fill a small disk until `leave_bytes` (roughly) are free."""
    import shutil

    free = shutil.disk_usage(folder).free
    (folder / "filler").write_bytes(b"\0" * max(free - leave_bytes, 0))
