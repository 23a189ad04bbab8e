"""What one TD3 update costs, and how close it gets to this machine's matmul floor.

The floor is measured, not quoted: every matmul the update performs (forward, input-gradient
and weight-gradient products of each Linear, averaged over `policy_delay`) is timed on its own
at its real shape and precision; their sum is the time an update would take if nothing but
matmuls ran, at the speed this CPU/GPU really delivers for them. The fraction printed is
floor / measured update time. The floor and every row are timed in turn, `--rounds` times, and
each fraction is the median of its rounds' fractions: the VM's speed drifts by 20% and more
within minutes, and a floor timed once before all rows would compare one speed with another.

    python bench/update.py                    # fp32 and bf16, eager and compiled
    python bench/update.py --precision fp32 --no-compile
"""

from __future__ import annotations

import argparse
import statistics
import time
from itertools import pairwise

import numpy as np
import torch
from torch import Tensor

from soccer_td3.agent.replay import ReplayBuffer
from soccer_td3.config import PRESETS, build_config
from soccer_td3.training.settings import build_learner

OBS_DIM, ACT_DIM = 45, 12  # LowerT1GoaliePenaltyKick-v0


def matmul_shapes(
    actor_net: list[int],
    critic_net: list[int],
    batch: int,
    delay: int,
    obs_dim: int = OBS_DIM,
    act_dim: int = ACT_DIM,
):
    """(m, k, n, count per update) of every matmul in one update, averaged over `delay`."""
    shapes: list[tuple[int, int, int, float]] = []
    actor_layers = list(pairwise([obs_dim, *actor_net, act_dim]))
    critic_layers = list(pairwise([obs_dim + act_dim, *critic_net, 1]))
    actor_step = 1.0 / delay
    for i, (k, n) in enumerate(actor_layers):
        shapes.append((batch, k, n, 1.0 + actor_step))  # target actor fwd; actor fwd
        shapes.append((k, batch, n, actor_step))  # weight grad
        if i > 0:
            shapes.append((batch, n, k, actor_step))  # input grad
    for i, (k, n) in enumerate(critic_layers):
        shapes.append((batch, k, n, 2 * 2.0 + actor_step))  # 2 critics: target + online fwd; q1
        shapes.append((k, batch, n, 2 * 1.0))  # weight grads of both critics
        shapes.append((batch, n, k, 2 * (1.0 if i > 0 else 0.0) + actor_step))  # input grads
    return shapes


class MatmulsOnly:
    """An update that runs the real update's matmuls (at their shapes, the actor step's every
    `delay`-th call) and nothing else, for
    bench/throughput.py --bound. Its inputs stay the same, hot in cache, so its speed is an
    upper bound."""

    def __init__(self, shapes, delay: int, device: str = "cpu") -> None:
        self.delay, self.calls = delay, 0
        self.products = []  # (product, every call, extra on the actor step's calls)
        for m, k, n, count in shapes:
            always = int(count)
            extra = round((count - always) * delay)
            a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
            self.products.append((lambda a=a, b=b: a @ b, always, extra))

    def __call__(self) -> None:
        self.calls += 1
        actor_step = self.calls % self.delay == 0
        for product, always, extra in self.products:
            for _ in range(always + (extra if actor_step else 0)):
                product()


def time_it(fn, repeats: int, inner: int) -> float:
    """Median seconds per call over `repeats` runs of `inner` calls (medians resist hiccups)."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def product_seconds(a: Tensor, b: Tensor) -> float:
    """Median seconds of a @ b (torch's BLAS), after a warm-up."""
    for _ in range(20):
        a @ b
    return time_it(lambda: a @ b, repeats=3, inner=100)


def matmul_floor(shapes, dtype: torch.dtype, device: str) -> tuple[float, float]:
    """Seconds and FLOPs of the update's matmuls, each timed alone at its shape."""
    seconds = flops = 0.0
    for m, k, n, count in shapes:
        a = torch.randn(m, k, dtype=dtype, device=device)
        b = torch.randn(k, n, dtype=dtype, device=device)
        seconds += count * product_seconds(a, b)
        flops += count * 2 * m * k * n
    return seconds, flops


def filled_buffer(device: str) -> ReplayBuffer:
    buffer = ReplayBuffer(50_000, OBS_DIM, ACT_DIM, device)
    rng = np.random.default_rng(0)
    buffer.add(
        rng.normal(size=(50_000, OBS_DIM)),
        rng.uniform(-1, 1, (50_000, ACT_DIM)),
        rng.normal(size=50_000),
        rng.normal(size=(50_000, OBS_DIM)),
        np.zeros(50_000),
    )
    return buffer


def warmed_learner(config, device: str, buffer: ReplayBuffer):
    """(the real learner, built by the function `train` builds it with, warm-up seconds)."""
    torch.manual_seed(0)
    learner = build_learner(config, OBS_DIM, ACT_DIM, [-1.0] * ACT_DIM, [1.0] * ACT_DIM, device)
    start = time.perf_counter()
    for _ in range(2 * config.td3.policy_delay):  # compiles both paths when compiled
        learner.update(buffer.sample(config.td3.batch_size))
    warmup = time.perf_counter() - start
    for _ in range(20):
        learner.update(buffer.sample(config.td3.batch_size))
    return learner, warmup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="balanced", choices=list(PRESETS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16"], action="append")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only compiled (--compile) or only eager (--no-compile)",
    )
    parser.add_argument("--updates", type=int, default=500, help="timed updates per row")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds in which every row and the floor are timed in turn (drift hits all alike)",
    )
    args = parser.parse_args()
    config = build_config(args.preset)
    precisions = args.precision or ["fp32", "bf16"]
    compiles = [False, True] if args.compile is None else [args.compile]
    shapes = matmul_shapes(
        config.networks.actor_net,
        config.networks.critic_net,
        config.td3.batch_size,
        config.td3.policy_delay,
    )
    print(
        f"preset {args.preset}, batch {config.td3.batch_size}, device {args.device}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}; "
        f"{args.rounds} rounds, each timing the floor and every row in turn"
    )
    buffer = filled_buffer(args.device)
    rows = []  # (precision, mode, learner, warm-up s)
    for precision in precisions:
        for compiled in compiles:
            run_config = config.replace(precision=precision, compile=compiled)
            learner, warmup = warmed_learner(run_config, args.device, buffer)
            rows.append((precision, compiled, learner, warmup))
    per_round = max(1, args.updates // args.rounds)
    floors: dict[str, list[float]] = {p: [] for p in precisions}
    times: list[list[float]] = [[] for _ in rows]
    flops = 0.0
    for _ in range(args.rounds):
        for precision in precisions:
            dtype = torch.bfloat16 if precision == "bf16" else torch.float32
            floor_s, flops = matmul_floor(shapes, dtype, args.device)
            floors[precision].append(floor_s)
        for i, (_, _, learner, _) in enumerate(rows):
            times[i].append(
                time_it(
                    lambda learner=learner: learner.update(buffer.sample(config.td3.batch_size)),
                    1,
                    per_round,
                )
            )
    print(
        f"{'precision':9} {'mode':8} {'ms/update':>9} {'updates/s':>9} {'GFLOP/s':>8} "
        f"{'floor ms':>8} {'of floor':>8} {'warm-up s':>9}"
    )
    for (precision, compiled, _, warmup), samples in zip(rows, times, strict=True):
        per_update = statistics.median(samples)
        floor_s = statistics.median(floors[precision])
        # The fraction of each round, then their median: a round's floor and update saw the
        # same speed of the machine.
        fraction = statistics.median(f / t for f, t in zip(floors[precision], samples, strict=True))
        label = "compiled" if compiled else "eager"
        print(
            f"{precision:9} {label:8} "
            f"{per_update * 1e3:9.2f} {1 / per_update:9.1f} "
            f"{flops / per_update / 1e9:8.0f} {floor_s * 1e3:8.2f} "
            f"{fraction:8.0%} {warmup:9.1f}"
        )
    print(f"one update = {flops / 1e9:.3f} GFLOP")


if __name__ == "__main__":
    main()
