"""The CPU cores a process may use, and how parallel runs share them.

Runs that share a core each get under half of it, and PyTorch's worker threads then wait on
each other: steps/s stop meaning anything and a run can crawl (a 300-step run was measured at
78 s instead of 2.9 s). So parallel runs (compare --jobs, tune --n-jobs) each get their own,
equally many cores, and a run uses exactly as many threads as it has cores.
"""

from __future__ import annotations

import os

import torch

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


def use_available_cores() -> None:
    """One intra-op thread per core this process may run on. OMP_WAIT_POLICY=active and
    OMP_PROC_BIND were tried here and gave no gain beyond run-to-run noise, so OpenMP keeps its
    defaults."""
    torch.set_num_threads(len(available_cores()))
