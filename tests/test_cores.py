"""ThreadGovernor: one thread while another process is busy on the run's cores."""

import subprocess
import sys
import time

import pytest
import torch

from soccer_td3.cores import (
    ThreadGovernor,
    available_cores,
    cpu_sample,
    others_usage,
    use_available_cores,
)

pytestmark = [
    pytest.mark.skipif(len(available_cores()) < 2, reason="needs 2 cores"),
    pytest.mark.quiet,  # make test runs these after the parallel part, on a quiet machine
]


@pytest.fixture(autouse=True)
def quiet_machine():
    """These tests read what other processes do: they need the machine to themselves."""
    before = cpu_sample()
    time.sleep(0.5)
    busy = others_usage(cpu_sample(), before)
    if busy > 0.25:
        pytest.skip(f"other processes use {busy:.1f} cores: the governor would rightly react")


def test_drops_to_one_thread_beside_a_busy_process_and_returns_when_it_stops(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    full = len(available_cores())
    torch.set_num_threads(full)
    governor = ThreadGovernor(interval=0.5)
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        line = governor.poll()
        assert line is not None and line.startswith("threads: 1")
        assert torch.get_num_threads() == 1
    finally:
        burner.kill()
        burner.wait()
    time.sleep(1.0)
    assert governor.poll() == f"threads: {full} (the cores are free again)"
    assert torch.get_num_threads() == full


def test_alone_it_keeps_every_core_and_an_explicit_thread_count_is_left_alone(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(len(available_cores()))
    governor = ThreadGovernor(interval=0.2)
    time.sleep(0.5)
    assert governor.poll() is None and torch.get_num_threads() == len(available_cores())
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert not ThreadGovernor().enabled


def test_a_run_whose_envs_have_processes_of_their_own_trains_on_one_thread(monkeypatch):
    """async_envs: the envs fill the cores, so the learner takes one thread and has nothing
    to govern (its own env processes are not neighbours to give way to)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        use_available_cores()
        assert torch.get_num_threads() == len(available_cores())
        use_available_cores(envs_in_processes=True)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)  # the test process's other tests keep their threads
    assert ThreadGovernor().enabled and not ThreadGovernor(envs_in_processes=True).enabled
