import os

import pytest

from soccer_td3.cores import available_cores, core_slots
from soccer_td3.errors import UserError


def test_slots_are_disjoint_and_equally_large():
    cores = available_cores()
    for jobs in range(1, len(cores) + 1):
        slots = core_slots(jobs)
        assert len(slots) == jobs
        assert len({len(s) for s in slots}) == 1  # same hardware for every run
        assert sum(len(s) for s in slots) == len(set().union(*slots))  # disjoint
        assert set().union(*slots) <= set(cores)


@pytest.mark.parametrize("jobs", [0, -1, len(os.sched_getaffinity(0)) + 1])
def test_impossible_job_counts_are_refused(jobs):
    with pytest.raises(UserError, match="--jobs"):
        core_slots(jobs)
