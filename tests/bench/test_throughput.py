"""bench/throughput.py's turns: the two trainers alternate `--turn` steps at a time, and each
one's clock leaves out the other's turns; `--bound` replaces ours's update by part of its work
(the benchmark's figures themselves are not tested)."""

import argparse
import importlib.util
import multiprocessing
import time
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from soccer_td3.agent import td3
from soccer_td3.config import build_config
from soccer_td3.training.settings import build_learner

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


MATMULS = (
    torch.ops.aten.mm.default,
    torch.ops.aten.addmm.default,
    torch.ops.mkldnn._linear_pointwise.default,
)


class CountMatmuls(TorchDispatchMode):
    """Counts every matmul (BLAS or oneDNN) dispatched inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in MATMULS:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("bound", ["matmuls", "matmuls+optimizer"])
def test_a_bound_update_does_its_part_of_the_work_and_learns_nothing(bound, monkeypatch):
    config = build_config("balanced")
    learner = build_learner(config, 45, 12, [-1.0] * 12, [1.0] * 12, "cpu")
    bench_update = throughput.bench_update_module()
    buffer = bench_update.filled_buffer("cpu")
    nets = (learner.actor, learner.critic)
    before = [p.clone() for net in nets for p in net.parameters()]
    steps: list[str] = []
    for name in ("critic_optimizer", "actor_optimizer"):
        optimizer = getattr(learner, name)
        monkeypatch.setattr(
            optimizer, "step", lambda real=optimizer.step, n=name: steps.append(n) or real()
        )
    real_polyak = learner.polyak_update
    monkeypatch.setattr(learner, "polyak_update", lambda: steps.append("polyak") or real_polyak())
    delay = config.td3.policy_delay
    with throughput.bound_updates(bound):
        learner.update(buffer.sample(config.td3.batch_size))  # picks each product's backend
        steps.clear()
        with CountMatmuls() as counted:
            for _ in range(delay):  # any `delay` calls in a row hold one actor step
                assert learner.update(buffer.sample(config.td3.batch_size)) == {}
    shapes = bench_update.matmul_shapes(
        config.networks.actor_net, config.networks.critic_net, config.td3.batch_size, delay
    )
    assert counted.count == round(sum(count for *_, count in shapes) * delay)
    assert learner.n_updates == delay + 1
    after = [p for net in nets for p in net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))  # zero gradients
    expected = []
    for n in range(2, delay + 2):
        expected += ["critic_optimizer"]
        if n % delay == 0:
            expected += ["actor_optimizer", "polyak"]
    assert steps == (expected if bound == "matmuls+optimizer" else [])
    assert "train/critic_loss" in learner.update(buffer.sample(config.td3.batch_size))  # restored


@pytest.mark.parametrize("bound", [None, "matmuls", "matmuls+optimizer"])
def test_the_flag_replaces_ours_update_in_a_real_run(bound, monkeypatch):
    real_updates: list[int] = []
    real = td3.td3_update
    monkeypatch.setattr(td3, "td3_update", lambda *a, **k: real_updates.append(1) or real(*a, **k))
    args = argparse.Namespace(
        preset="baseline",
        seed=0,
        device="cpu",
        learning_starts=100,
        steps=200,
        warmup=100,
        precision=None,
        compile=None,
        bound=bound,
    )
    turns = throughput.Turns((throughput.OURS, throughput.SB3), 100, 200)
    turns.done[throughput.SB3].set()  # no peer: ours runs every turn
    assert throughput.ours_steps_per_second(args, turns) > 0
    assert (len(real_updates) == 0) == (bound is not None)
