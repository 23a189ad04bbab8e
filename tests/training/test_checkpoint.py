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
from tests.conftest import fill, tiny

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


@pytest.mark.quiet  # times the stop
def test_a_stop_during_an_evaluation_does_not_wait_for_it_and_the_resume_evaluates_first(
    tmp_path: Path,
):
    """The soccer preset's evaluation plays 10 s episodes (tens of seconds for ten): SIGTERM
    in the middle abandons it, writes the checkpoint, and the resumed run evaluates there."""
    run = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "soccer_td3", "train", "--preset", "soccer", "--save-dir",
            str(run), "--timesteps", "20000", "--learning-starts", "500", "--batch-size", "32",
            "--eval-freq", "1000", "--eval-episodes", "10", "--log-interval", "500",
            "--net", "32", "--device", "cpu", "--no-async-envs", "--num-envs", "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while not (run / "progress.csv").is_file() or progress_steps(run)[-1:] != [500]:
        assert time.time() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.1)
    time.sleep(6)  # steps 500 to 1000 take about a second; then the evaluation runs
    process.send_signal(signal.SIGTERM)
    stopped = time.time()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert time.time() - stopped < 10  # not the evaluation's remaining tens of seconds
    step = load_checkpoint(run).state["step"]
    assert step >= 1000 and "Resume with" in out
    with (run / "progress.csv").open() as handle:
        assert not any(r.get("eval/mean_score") for r in csv.DictReader(handle))
    resumed = soccer_td3(
        "train", "--resume", str(run), "--timesteps", str(step + 100), "--eval-episodes", "1"
    )
    assert resumed.returncode == 0, resumed.stderr
    with (run / "progress.csv").open() as handle:
        evaluated = [
            int(r["time/total_timesteps"])
            for r in csv.DictReader(handle)
            if r.get("eval/mean_score")
        ]
    assert step < evaluated[0] <= step + 50  # the abandoned one, made after the first decision


@pytest.mark.parametrize(
    "settings", [{}, {"control": "pd", "decimation": 10, "obs_norm": True}], ids=["torque", "pd"]
)
def test_restore_is_bitwise(tmp_path: Path, settings: dict):
    config = tiny(**settings)
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
    save_checkpoint(tmp_path, 300, learner, buffer, {"tasks": config.environment.env})

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
    config = tiny()
    learner = build_learner(config, 45, 12, -np.ones(12), np.ones(12), "cpu")
    buffer = ReplayBuffer(100, 45, 12)
    buffer.add(
        np.zeros((10, 45)), np.zeros((10, 12)), np.zeros(10), np.zeros((10, 45)), np.zeros(10)
    )
    first = save_checkpoint(tmp_path, 10, learner, buffer, {"tasks": config.environment.env})
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(1, 1, 0))
    with pytest.raises(UserError, match="not enough disk"):
        save_checkpoint(tmp_path, 20, learner, buffer, {"tasks": config.environment.env})
    assert load_checkpoint(tmp_path).path == first
    assert not (tmp_path / "checkpoints" / "step_20").exists()


def tiny_learner_and_buffer(rows: int = 10):
    learner = build_learner(tiny(), 45, 12, -np.ones(12), np.ones(12), "cpu")
    buffer = ReplayBuffer(max(rows, 100), 45, 12)
    buffer.add(
        np.zeros((rows, 45)), np.zeros((rows, 12)), np.zeros(rows), np.zeros((rows, 45)),
        np.zeros(rows),
    )  # fmt: skip
    return learner, buffer


def test_a_disk_that_fills_while_writing_leaves_no_half_checkpoint(small_disk, monkeypatch):
    """A real full disk (tmpfs) that another process fills after the space check: the check
    is told there is room, the write then fails half-way."""
    import shutil

    disk = small_disk(1024)
    learner, buffer = tiny_learner_and_buffer(3000)  # ~0.7 MB of rows: more than is left
    fill(disk, 600_000)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(1e12, 0, 1e12))
    with pytest.raises(UserError, match="the run has no checkpoint yet") as error:
        save_checkpoint(disk, 10, learner, buffer, {"tasks": ["x"]}, keep=2)
    assert "cannot write the step 10 checkpoint" in str(error.value)
    assert not list((disk / "checkpoints").iterdir())  # no .tmp_step_10 left


def test_a_half_written_checkpoint_from_an_abort_is_removed_by_the_next(tmp_path: Path):
    learner, buffer = tiny_learner_and_buffer()
    orphan = tmp_path / "checkpoints" / ".tmp_step_5"
    orphan.mkdir(parents=True)
    (orphan / "buffer.safetensors").write_bytes(b"\0" * 1000)
    save_checkpoint(tmp_path, 10, learner, buffer, {"tasks": ["x"]})
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["latest", "step_10"]


@pytest.mark.parametrize(
    "pointer, words",
    [
        ("../../other/checkpoints/step_100", "not a step_<N> checkpoint of its own run"),
        ("/etc", "not a step_<N> checkpoint"),
        (b"\xff\xfe\x00", "not a text file"),
    ],
)
def test_a_latest_pointer_never_leaves_its_run(tmp_path: Path, pointer, words):
    learner, buffer = tiny_learner_and_buffer()
    save_checkpoint(tmp_path, 10, learner, buffer, {"tasks": ["x"]})
    latest = tmp_path / "checkpoints" / "latest"
    latest.write_bytes(pointer if isinstance(pointer, bytes) else pointer.encode())
    with pytest.raises(UserError, match=words):
        load_checkpoint(tmp_path)


def test_a_second_interrupt_removes_the_half_checkpoint_and_names_the_last(tmp_path, capsys):
    """StopOnSignal's second signal, delivered to its handler as the kernel would, while a
    checkpoint is half-written: the orphan goes and one line says where to resume."""
    from soccer_td3.training import signals
    from soccer_td3.training.loop import abort_message

    learner, buffer = tiny_learner_and_buffer()
    last = save_checkpoint(tmp_path, 10, learner, buffer, {"tasks": ["x"]})
    (tmp_path / "checkpoints" / ".tmp_step_20").mkdir()  # the write the signal interrupts
    stop = signals.StopOnSignal(on_abort=lambda: abort_message(tmp_path))
    exits = []
    original = signals.os._exit
    signals.os._exit = exits.append
    try:
        stop._handle(signal.SIGINT, None)
        assert stop.requested and not exits  # the first asks for a stop after the step
        stop._handle(signal.SIGINT, None)
    finally:
        signals.os._exit = original
    assert exits == [130]
    assert not (tmp_path / "checkpoints" / ".tmp_step_20").exists()
    line = capsys.readouterr().err.strip()
    assert line == (
        f"soccer-td3: stopped at once (second interrupt); the last complete checkpoint is "
        f"{last}; resume with: soccer-td3 train --resume {tmp_path}"
    )


def test_signals_stay_ignored_after_a_stop_and_come_back_after_a_whole_run():
    """A second Ctrl-C after the stop's checkpoint, while the run closes its envs, once
    printed a KeyboardInterrupt from a finaliser: after a stop, signals stay ignored."""
    from soccer_td3.training.signals import StopOnSignal

    before, before_term = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        with StopOnSignal():
            pass
        assert signal.getsignal(signal.SIGINT) is before  # no stop: the handler comes back
        with StopOnSignal() as stop:
            stop._handle(signal.SIGINT, None)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
        signal.signal(signal.SIGTERM, before_term)


def test_non_finite_losses_stop_with_the_quantity_step_and_advice(tmp_path: Path):
    from soccer_td3.training.loop import train

    with pytest.raises(UserError, match=r"train/\w+ became (nan|inf).*learning_rate to 1e-4"):
        train(tiny(learning_rate=1e30), tmp_path)
