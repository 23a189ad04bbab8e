"""bench/update.py: `--rounds` times the floor and then every row once a round, so each row's
updates fall between the floors (the figures themselves are not tested)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "update.py"
spec = importlib.util.spec_from_file_location("bench_update", BENCH)
update = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update)


@pytest.mark.parametrize("rounds", [1, 3])
def test_each_round_times_the_floor_then_every_row(rounds, monkeypatch, capsys):
    floors: list[int] = []
    rows: list[list[int]] = []  # per row: how many floors were timed at each of its updates
    real_floor, real_learner = update.matmul_floor, update.warmed_learner

    def counted_floor(*args):
        floors.append(1)
        return real_floor(*args)

    def counted_learner(*args):
        learner, warmup = real_learner(*args)
        seen: list[int] = []
        rows.append(seen)
        real_update = learner.update
        learner.update = lambda batch: seen.append(len(floors)) or real_update(batch)
        return learner, warmup

    monkeypatch.setattr(update, "matmul_floor", counted_floor)
    monkeypatch.setattr(update, "warmed_learner", counted_learner)
    argv = ["update.py", "--preset", "baseline", "--precision", "fp32", "--no-compile"]
    monkeypatch.setattr(sys, "argv", [*argv, "--updates", "6", "--rounds", str(rounds)])
    update.main()
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("fp32")]
    assert len(printed) == len(rows) == 1  # fp32 eager
    assert len(floors) == rounds
    per_round = 6 // rounds
    for seen in rows:
        assert seen == [r + 1 for r in range(rounds) for _ in range(per_round)]
