"""bench/throughput.py's turns: the two trainers alternate `--turn` steps at a time, and each
one's clock leaves out the other's turns (the benchmark's figures themselves are not tested)."""

import importlib.util
import multiprocessing
import time
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "throughput.py"
spec = importlib.util.spec_from_file_location("bench_throughput", BENCH)
throughput = importlib.util.module_from_spec(spec)
spec.loader.exec_module(throughput)

STEPS, EVERY, STEP_SECONDS = 20, 5, 0.01


def trainer(turns, name: str, log, seconds) -> None:
    """A stand-in for a training loop: each step takes STEP_SECONDS and reports its turn."""
    if name == "b":
        turns.wait_for_turn(name)
    for step in range(1, STEPS + 1):
        time.sleep(STEP_SECONDS)
        log.put((time.monotonic(), name))
        turns.at(name, step)
    turns.finish(name)
    seconds.put(turns.seconds)


def test_trainers_take_turns_and_each_clock_counts_only_its_own():
    turns = throughput.Turns(("a", "b"), EVERY, timed_from=0)
    context = multiprocessing.get_context("fork")
    log, seconds = context.Queue(), context.Queue()
    peer = context.Process(target=trainer, args=(turns, "b", log, seconds))
    peer.start()
    trainer(turns, "a", log, seconds)
    peer.join(timeout=30)
    order = [name for _, name in sorted(log.get(timeout=5) for _ in range(2 * STEPS))]
    blocks = [order[i : i + EVERY] for i in range(0, len(order), EVERY)]
    assert [set(b) for b in blocks] == [{"a"}, {"b"}] * (STEPS // EVERY)
    for clock in (seconds.get(timeout=5), seconds.get(timeout=5)):
        # Its own 20 steps (0.2 s and some), far from the 0.4 s of wall time both took.
        assert STEPS * STEP_SECONDS * 0.9 < clock < STEPS * STEP_SECONDS * 1.5
