"""Env steps per second while training: stable-baselines3 TD3 and soccer_td3, same recipe, one run.

Both train on LowerT1GoaliePenaltyKick-v0 with the same seed, the same preset, the same
learning_starts and the same number of training steps after it. Only the training phase is
timed, from `--warmup` steps after learning_starts to the last step: the random-action phase
costs both the same and would hide the learner, and the warm-up holds one-off costs (torch.compile
compiles at the first updates). The last line is `ratio=<ours/sb3>`.

The two take turns, `--turn` env steps each (one thread each, one running at a time), and each
is timed only while it runs: a VM's speed drifts by 20% and more within minutes (docs/design.md,
"Measured"), and run one after the other, one would get the fast minutes and the other the
slow ones. Taking turns, both see the same mix.

    python bench/throughput.py --quick                 # < 3 minutes on 2 cores
    python bench/throughput.py --steps 20000           # the figures in README's Performance
    python bench/throughput.py --quick --precision bf16
    python bench/throughput.py --quick --bound matmuls  # ours's update: its matmuls alone
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import multiprocessing
import os
import platform
import queue
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from soccer_td3.agent.td3 import TD3Learner
from soccer_td3.config import PRESETS, build_config
from soccer_td3.cores import cpu_sample, others_usage
from soccer_td3.training.loop import TrainingRun, train
from soccer_td3.training.settings import td3_hyperparams


def sb3_hyperparams(config) -> dict:
    """Ours, as SB3's TD3 keywords; actor_l2 has none, so the recipe compared must not use it."""
    numbers = asdict(td3_hyperparams(config))
    if numbers.pop("actor_l2"):
        raise SystemExit("bench/throughput.py compares the seed's recipe: actor_l2 must be 0")
    return numbers


TASK = "LowerT1GoaliePenaltyKick-v0"
OURS, SB3 = "soccer_td3", "sb3"
LOG_EVERY = 100  # ours logs a timed row this often; the timing window starts and ends on one


class Turns:
    """Two trainers, each in its own process, run `every` env steps at a time in turn (threads
    would not do: MKL runs single-threaded when called from a second thread). Each trainer's
    clock runs only in its own turns, from the step where timing starts to its end."""

    def __init__(self, names: tuple[str, str], every: int, timed_from: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.names, self.every, self.timed_from = names, every, timed_from
        self.go = {name: context.Semaphore(0) for name in names}
        self.done = {name: context.Event() for name in names}
        self.peer_ready = context.Event()  # the peer process is up and waits for its turn
        # Each process's own clock (copied, not shared, when the peer process starts).
        self.timing = False  # from the first step at or past timed_from
        self.seconds = 0.0
        self.started = 0.0  # the current turn's start
        self.steps_in_turn = 0

    def _other(self, name: str) -> str:
        return self.names[1] if name == self.names[0] else self.names[0]

    def wait_for_turn(self, name: str) -> None:
        while not self.go[name].acquire(timeout=1.0):
            if self.done[self._other(name)].is_set():
                return

    def at(self, name: str, step: int) -> None:
        """Called after each env step of trainer `name`."""
        if not self.timing and step >= self.timed_from:  # the clock starts mid-turn
            self.timing, self.started = True, time.perf_counter()
        self.steps_in_turn += 1
        if self.steps_in_turn < self.every or self.done[self._other(name)].is_set():
            return
        if self.timing:
            self.seconds += time.perf_counter() - self.started
        self.go[self._other(name)].release()
        self.wait_for_turn(name)
        self.steps_in_turn = 0
        self.started = time.perf_counter()

    def finish(self, name: str) -> None:
        """Stop `name`'s clock for good and give the other every turn from now on."""
        if self.done[name].is_set():
            return
        if self.timing:
            self.seconds += time.perf_counter() - self.started
        self.done[name].set()
        self.go[self._other(name)].release()


def warn_if_busy(seconds: float = 2.0) -> None:
    """What other processes use of the cores over `seconds`, before anything runs. Not the load
    average: it still counts a benchmark that ended a minute ago, so back-to-back runs would
    all warn."""
    before = cpu_sample()
    time.sleep(seconds)
    now = cpu_sample()
    if before is None or now is None:
        return
    others = others_usage(now, before)
    if others > 0.25:
        print(
            f"WARNING: other processes use {others:.2f} of this machine's {os.cpu_count()} "
            "cores: figures may be far below its own (a busy neighbour halves them)",
            file=sys.stderr,
        )


def sb3_steps_per_second(args: argparse.Namespace, turns: Turns) -> float:
    """SB3 TD3 with the recipe of `args.preset`, timed in its turns from the warm-up's end."""
    import numpy as np
    from stable_baselines3 import TD3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.noise import NormalActionNoise

    from soccer_td3.envs.registry import make_env

    config = build_config(args.preset)
    env = make_env(TASK, seed=args.seed)
    act_dim = env.action_space.shape[0]

    class TakeTurns(BaseCallback):
        def _on_step(self) -> bool:
            turns.at(SB3, self.num_timesteps)
            return True

    model = TD3(
        "MlpPolicy",
        env,
        learning_rate=config.td3.learning_rate,
        buffer_size=config.td3.buffer_size,
        learning_starts=args.learning_starts,
        batch_size=config.td3.batch_size,
        train_freq=config.td3.train_freq,
        gradient_steps=config.td3.gradient_steps,
        action_noise=NormalActionNoise(
            np.zeros(act_dim), config.td3.exploration_noise * np.ones(act_dim)
        ),
        # gamma, tau, policy_delay, target noise: the numbers our learner is built with.
        **sb3_hyperparams(config),
        policy_kwargs={
            "net_arch": {"pi": config.networks.actor_net, "qf": config.networks.critic_net},
            "activation_fn": torch.nn.ReLU,
        },
        seed=args.seed,
        device="cpu" if args.device == "auto" and not torch.cuda.is_available() else args.device,
        verbose=0,
    )
    model.learn(total_timesteps=args.learning_starts + args.steps, callback=TakeTurns())
    turns.finish(SB3)
    env.close()
    return (args.steps - args.warmup) / turns.seconds


def bench_update_module():
    """bench/update.py, whose matmul shapes a --bound update runs (bench/ is no package)."""
    spec = importlib.util.spec_from_file_location(
        "bench_update", Path(__file__).with_name("update.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BOUNDS = {
    "matmuls": "the update's matmuls alone",
    "matmuls+optimizer": "the update's matmuls, Adam steps and polyak averaging",
}


@contextlib.contextmanager
def bound_updates(bound: str | None):
    """With a `bound`, every TD3Learner.update does only that part of the real update's work
    and learns nothing: the matmuls at the learner's own shapes (bench/update.py's
    MatmulsOnly), and with "matmuls+optimizer" also both fused Adam steps and the polyak
    averaging, on zero gradients (the same memory traffic). Collection, sampling and logging
    stay real, so the ratio is what a learner that did nothing else in its update would reach
    here: work every fp32 TD3 update has to do."""
    if bound is None:
        yield
        return
    bench_update = bench_update_module()
    real_update = TD3Learner.update
    products: dict[int, object] = {}

    def partial_update(learner: TD3Learner, batch, actor_learns: bool = True) -> dict:
        if id(learner) not in products:
            shapes = bench_update.matmul_shapes(
                learner.actor.hidden,
                learner.critic.hidden,
                batch.obs.shape[0],
                learner.hp.policy_delay,
                learner.actor.obs_dim,
                learner.actor.act_dim,
            )
            products[id(learner)] = bench_update.MatmulsOnly(shapes, learner.hp.policy_delay)
            if bound == "matmuls+optimizer":  # what the Adam steps read
                for param in [*learner.actor.parameters(), *learner.critic.parameters()]:
                    param.grad = torch.zeros_like(param)
        learner.n_updates += 1
        products[id(learner)]()
        if bound == "matmuls+optimizer":
            learner.critic_optimizer.step()
            if learner.n_updates % learner.hp.policy_delay == 0:
                learner.actor_optimizer.step()
                learner.polyak_update()
        return {}

    TD3Learner.update = partial_update
    try:
        yield
    finally:
        TD3Learner.update = real_update


def ours_steps_per_second(args: argparse.Namespace, turns: Turns) -> float:
    """soccer_td3 with the same recipe, timed in its turns from the warm-up's end. Its loop has
    no per-step callback, so the turns are taken after each step's training."""
    overrides = {
        "env": [TASK],
        "seed": args.seed,
        "device": args.device,
        "timesteps": args.learning_starts + args.steps,
        "learning_starts": args.learning_starts,
        "log_interval": LOG_EVERY,
    }
    if args.precision is not None:
        overrides["precision"] = args.precision
    if args.compile is not None:
        overrides["compile"] = args.compile
    config = build_config(args.preset, overrides=overrides)
    train_step = TrainingRun.train
    end = args.learning_starts + args.steps

    def train_then_take_turns(run: TrainingRun) -> None:
        train_step(run)
        if run.state.step >= end:
            turns.finish(OURS)  # saving final/ is not training
        else:
            turns.at(OURS, run.state.step)

    TrainingRun.train = train_then_take_turns
    try:
        with tempfile.TemporaryDirectory() as tmp, bound_updates(args.bound):
            train(config, Path(tmp))
            with (Path(tmp) / "progress.csv").open() as handle:
                rows = {int(r["time/total_timesteps"]): r for r in csv.DictReader(handle)}
    finally:
        TrainingRun.train = train_step
        turns.finish(OURS)  # again if it ended early: the peer must never wait on us
    if int(max(rows)) != end:
        raise SystemExit(f"soccer_td3 stopped at step {max(rows)}, not {end}")
    return (args.steps - args.warmup) / turns.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=20_000, help="training steps after learning_starts"
    )
    parser.add_argument("--learning-starts", type=int, default=2_000)
    parser.add_argument(
        "--warmup",
        type=int,
        default=200,
        help="training steps after learning_starts left out of the timing",
    )
    parser.add_argument("--preset", default="balanced", choices=list(PRESETS))
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default=None,
        help="ours only (SB3 has no bf16); default: soccer_td3's default",
    )
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ours only; default: soccer_td3's default",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3,000 training steps (< 3 min here)")
    parser.add_argument("--skip-sb3", action="store_true", help="measure ours only (no ratio)")
    parser.add_argument(
        "--bound",
        choices=list(BOUNDS),
        default=None,
        help="ours does only this part of its update and learns nothing: the ratio a learner "
        "with nothing else in its update would reach",
    )
    parser.add_argument(
        "--turn", type=int, default=100, help="env steps each runs before the other's turn"
    )
    args = parser.parse_args()
    if args.quick:
        args.steps, args.learning_starts = 3_000, 1_000
    if any(n % LOG_EVERY for n in (args.steps, args.learning_starts, args.warmup)):
        parser.error(f"--steps, --learning-starts and --warmup must be multiples of {LOG_EVERY}")
    if args.warmup >= args.steps:
        parser.error("--warmup must be smaller than --steps")
    if args.bound and (args.precision == "bf16" or args.compile):
        parser.error("--bound times fp32 eager work: drop --precision bf16 / --compile")

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"task {TASK}, preset {args.preset}, learning_starts {args.learning_starts}, "
        f"training steps {args.steps} (timed: the last {args.steps - args.warmup})"
    )
    if not args.skip_sb3:
        sb3_hyperparams(build_config(args.preset))  # a recipe SB3 cannot run fails here
    warn_if_busy()
    # A fixed thread count: to ThreadGovernor (cores.py) the peer's turns would look like a busy
    # neighbour, and it would drop ours to one thread. Set here, the peer inherits it too.
    os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))
    if not args.skip_sb3:
        print(f"taking turns every {args.turn} env steps, each timed in its own turns")
    turns = Turns((OURS, SB3), args.turn, args.learning_starts + args.warmup)
    context = multiprocessing.get_context("spawn")
    sb3 = context.Queue()
    peer = context.Process(target=run_sb3_in_turn, args=(args, turns, sb3), daemon=True)
    if args.skip_sb3:
        turns.done[SB3].set()
    else:
        peer.start()
        turns.peer_ready.wait()  # its start-up (imports) would disturb ours
    ours = ours_steps_per_second(args, turns)
    defaults = build_config()
    precision = args.precision or defaults.speed.precision
    compiled = defaults.speed.compile if args.compile is None else args.compile
    what = f"{precision}, {'compiled' if compiled else 'eager'}"
    if args.bound:
        what = f"bound: {BOUNDS[args.bound]}, no training"
    print(f"soccer_td3: {ours:8.1f} env steps/s while training ({what})")
    if args.skip_sb3:
        return
    while True:  # the peer's figure, or its death
        try:
            peer_speed = sb3.get(timeout=1.0)
            break
        except queue.Empty:
            if not peer.is_alive():
                raise SystemExit("the stable-baselines3 run failed (its error is above)") from None
    peer.join()
    print(f"sb3 TD3:    {peer_speed:8.1f} env steps/s while training")
    print(f"ratio={ours / peer_speed:.2f}")


def run_sb3_in_turn(args: argparse.Namespace, turns: Turns, result) -> None:
    """The peer's process: it builds nothing until its first turn (so it cannot disturb our
    start-up), and it ends its turns even when it fails, so ours never waits on a dead peer."""
    turns.peer_ready.set()
    turns.wait_for_turn(SB3)
    try:
        result.put(sb3_steps_per_second(args, turns))
    finally:
        if not turns.done[SB3].is_set():
            turns.finish(SB3)


if __name__ == "__main__":
    main()
