"""Env steps per second while training: stable-baselines3 TD3 and soccer_td3, same recipe, one run.

Both train on LowerT1GoaliePenaltyKick-v0 with the same seed, the same preset, the same
learning_starts and the same number of training steps after it. Only the training phase is
timed, from `--warmup` steps after learning_starts to the last step: the random-action phase
costs both the same and would hide the learner, and the warm-up holds one-off costs (torch.compile
compiles at the first updates). The last line is `ratio=<ours/sb3>`.

    python bench/throughput.py --quick                 # < 3 minutes on 2 cores
    python bench/throughput.py --steps 20000           # the figures in README's Performance
    python bench/throughput.py --quick --precision bf16
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from soccer_td3.config import PRESETS, build_config
from soccer_td3.cores import cpu_sample, others_usage
from soccer_td3.training.loop import train
from soccer_td3.training.settings import td3_hyperparams


def sb3_hyperparams(config) -> dict:
    """Ours, as SB3's TD3 keywords; actor_l2 has none, so the recipe compared must not use it."""
    numbers = asdict(td3_hyperparams(config))
    if numbers.pop("actor_l2"):
        raise SystemExit("bench/throughput.py compares the seed's recipe: actor_l2 must be 0")
    return numbers


TASK = "LowerT1GoaliePenaltyKick-v0"
LOG_EVERY = 100  # ours logs a timed row this often; the timing window starts and ends on one


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


def sb3_steps_per_second(args: argparse.Namespace) -> float:
    """SB3 TD3 with the recipe of `args.preset`, timed from learning_starts to the end."""
    import numpy as np
    from stable_baselines3 import TD3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.noise import NormalActionNoise

    from soccer_td3.envs.registry import make_env

    config = build_config(args.preset)
    env = make_env(TASK, seed=args.seed)
    act_dim = env.action_space.shape[0]

    class TrainingClock(BaseCallback):
        start: float | None = None

        def _on_step(self) -> bool:
            if self.num_timesteps == args.learning_starts + args.warmup:
                self.start = time.perf_counter()
            return True

    clock = TrainingClock()
    model = TD3(
        "MlpPolicy",
        env,
        learning_rate=config.learning_rate,
        buffer_size=config.buffer_size,
        learning_starts=args.learning_starts,
        batch_size=config.batch_size,
        train_freq=config.train_freq,
        gradient_steps=config.gradient_steps,
        action_noise=NormalActionNoise(
            np.zeros(act_dim), config.exploration_noise * np.ones(act_dim)
        ),
        # gamma, tau, policy_delay, target noise: the numbers our learner is built with.
        **sb3_hyperparams(config),
        policy_kwargs={
            "net_arch": {"pi": config.actor_net, "qf": config.critic_net},
            "activation_fn": torch.nn.ReLU,
        },
        seed=args.seed,
        device="cpu" if args.device == "auto" and not torch.cuda.is_available() else args.device,
        verbose=0,
    )
    model.learn(total_timesteps=args.learning_starts + args.steps, callback=clock)
    elapsed = time.perf_counter() - clock.start
    env.close()
    return (args.steps - args.warmup) / elapsed


def ours_steps_per_second(args: argparse.Namespace) -> float:
    """soccer_td3 with the same recipe; timed by its own progress.csv rows at the same steps."""
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
    with tempfile.TemporaryDirectory() as tmp:
        train(config, Path(tmp))
        with (Path(tmp) / "progress.csv").open() as handle:
            rows = {int(r["time/total_timesteps"]): r for r in csv.DictReader(handle)}
    start = float(rows[args.learning_starts + args.warmup]["time/time_elapsed"])
    end = float(rows[args.learning_starts + args.steps]["time/time_elapsed"])
    return (args.steps - args.warmup) / (end - start)


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
    args = parser.parse_args()
    if args.quick:
        args.steps, args.learning_starts = 3_000, 1_000
    if any(n % LOG_EVERY for n in (args.steps, args.learning_starts, args.warmup)):
        parser.error(f"--steps, --learning-starts and --warmup must be multiples of {LOG_EVERY}")
    if args.warmup >= args.steps:
        parser.error("--warmup must be smaller than --steps")

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"task {TASK}, preset {args.preset}, learning_starts {args.learning_starts}, "
        f"training steps {args.steps} (timed: the last {args.steps - args.warmup})"
    )
    warn_if_busy()
    ours = ours_steps_per_second(args)
    defaults = build_config()
    precision = args.precision or defaults.precision
    compiled = defaults.compile if args.compile is None else args.compile
    print(
        f"soccer_td3: {ours:8.1f} env steps/s while training "
        f"({precision}, {'compiled' if compiled else 'eager'})"
    )
    if args.skip_sb3:
        return
    sb3 = sb3_steps_per_second(args)
    print(f"sb3 TD3:    {sb3:8.1f} env steps/s while training")
    print(f"ratio={ours / sb3:.2f}")


if __name__ == "__main__":
    main()
