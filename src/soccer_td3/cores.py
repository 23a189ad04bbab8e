"""The CPU cores a process may use, and how parallel runs share them.

Runs that share a core each get under half of it, and PyTorch's OpenMP workers, which spin
while they wait, then steal the cycles the other run needs: a 300-step run was measured at 78 s
instead of 2.9 s. So parallel runs (compare --jobs, tune --n-jobs) each get their own, equally
many cores; a run alone uses one thread per core; and a run that finds other processes busy on
its cores drops to one thread (ThreadGovernor), so it has no workers left to spin.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from soccer_td3.errors import UserError


def available_cores() -> list[int]:
    """This process's affinity mask (in a container often fewer than os.cpu_count())."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def core_slots(jobs: int, flag: str = "--jobs") -> list[set[int]]:
    """`jobs` disjoint, equally large sets of cores; cores left over stay unused, so every
    run of a comparison gets the same hardware."""
    cores = available_cores()
    if jobs < 1:
        raise UserError(f"{flag} {jobs} must be at least 1")
    if jobs > len(cores):
        raise UserError(
            f"{flag} {jobs} exceeds the {len(cores)} cores this process may use; runs sharing "
            f"a core slow each other unevenly, so use {flag} {len(cores)} or fewer"
        )
    size = len(cores) // jobs
    return [set(cores[i * size : (i + 1) * size]) for i in range(jobs)]


def pin(cores: set[int]) -> None:
    """Run this process (and what it starts) on `cores` only."""
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)


def use_available_cores(envs_in_processes: bool = False) -> None:
    """One intra-op thread per core this process may run on, or one when the run's own env
    processes fill those cores (async_envs: the learner's updates then overlap their physics,
    and spinning OpenMP workers would take their cycles). OMP_NUM_THREADS, when set, wins."""
    if "OMP_NUM_THREADS" in os.environ:
        return
    import torch  # here, not at the top: compare and tune check --jobs before torch loads

    torch.set_num_threads(1 if envs_in_processes else len(available_cores()))


def _busy_ticks(cores: list[int]) -> int | None:
    """CPU ticks spent running anything on `cores` since boot (steal and idle excluded)."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    wanted = {f"cpu{c}" for c in cores}
    total = 0
    for line in lines:
        name, *values = line.split()
        if name in wanted:
            user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in values[:7])
            total += user + nice + system + irq + softirq
    return total


def _own_ticks() -> int:
    times = os.times()  # this process's threads, in seconds
    return round((times.user + times.system) * os.sysconf("SC_CLK_TCK"))


CpuSample = tuple[float, int, int]  # (monotonic seconds, busy ticks of the cores, own ticks)


def cpu_sample(cores: list[int] | None = None) -> CpuSample | None:
    """A reading to diff against a later one (None where /proc/stat is missing)."""
    busy = _busy_ticks(available_cores() if cores is None else cores)
    return None if busy is None else (time.monotonic(), busy, _own_ticks())


def others_usage(now: CpuSample, before: CpuSample) -> float:
    """Cores' worth of CPU that other processes used between two samples."""
    seconds = max(now[0] - before[0], 1e-6)
    ticks = (now[1] - before[1]) - (now[2] - before[2])
    return max(ticks, 0) / os.sysconf("SC_CLK_TCK") / seconds


class ThreadGovernor:
    """One thread per core while the cores are ours; one thread while a neighbour is busy.

    Why threads and not OMP_WAIT_POLICY=passive: both end the collapse of two runs side by side,
    but passive slows a run alone and can only be set before torch starts, while the thread
    count can change at any moment (figures: README, Performance). So: every `interval`
    seconds, what other processes used of our cores decides (busy above half a core, free
    again below a quarter).
    """

    BUSY, FREE = 0.5, 0.25  # cores used by others

    def __init__(self, interval: float = 2.0, envs_in_processes: bool = False) -> None:
        self.cores = available_cores()
        self.interval = interval
        self.full = len(self.cores)
        self._last = cpu_sample(self.cores)
        # With its envs in processes of their own, a run keeps one thread (use_available_cores)
        # and its cores are never free of "other" processes: nothing to govern.
        self.enabled = (
            self.full > 1
            and "OMP_NUM_THREADS" not in os.environ
            and self._last is not None
            and not envs_in_processes
        )

    def poll(self) -> str | None:
        """Adjust the thread count when due; a line to print when it changed."""
        if not self.enabled or time.monotonic() - self._last[0] < self.interval:
            return None
        now = cpu_sample(self.cores)
        others = others_usage(now, self._last)
        self._last = now
        import torch

        threads = torch.get_num_threads()
        if threads > 1 and others > self.BUSY:
            torch.set_num_threads(1)
            return (
                f"threads: 1 (other processes use {others:.1f} of this run's {self.full} cores; "
                f"back to {self.full} when they stop)"
            )
        if threads == 1 and others < self.FREE:
            torch.set_num_threads(self.full)
            return f"threads: {self.full} (the cores are free again)"
        return None


def cpu_flags() -> set[str]:
    """The ISA flags of the first processor in /proc/cpuinfo (empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                return set(value.split())
    except OSError:
        pass
    return set()
