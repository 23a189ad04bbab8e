"""The `soccer` preset's training throughput against the bare simulator, one core and two.

With the walking skill, one transition is 50 physics steps, five skill forwards and two TD3
updates: the update is no longer where the time goes. This measures where it does, against
the ceiling that no learner can pass, the simulator itself:

- bare: sai_mujoco's task env stepped with fixed (zero) torques and nothing else, reset when
  an episode ends; on two cores, one such process per core, their rates summed;
- ours: `soccer-td3 train --preset soccer` (command control: commander, skill, PD law, TD3
  updates after learning_starts), timed from its progress.csv rows after learning_starts and a
  warm-up. One core: one env in the training process, one torch thread, pinned to one core.
  Two cores: the preset as it ships (two envs stepped in two processes), on both cores.

Each figure runs in a process of its own, one at a time (two would thrash the two cores).
The last lines are `ratio_bare=R` (ours over bare, physics steps/s, one core) and
`scaling_2cores=S` (ours on two cores over ours on one).

    python bench/play.py --quick     # < 5 minutes on 2 cores
    python bench/play.py             # longer windows, steadier figures
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = "LowerT1GoaliePenaltyKick-v0"
STEP_KEY, TIME_KEY = "time/total_timesteps", "time/time_elapsed"


def bare_steps(task: str, seconds: float) -> float:
    """Physics steps per second of the bare env with zero torques, for `seconds`."""
    import numpy as np

    from soccer_td3.envs.registry import make_env

    env = make_env(task, seed=0)
    env.reset(seed=0)
    zeros = np.zeros(env.action_space.shape, np.float32)
    for _ in range(200):  # warm-up: first steps allocate
        if any(env.step(zeros)[2:4]):
            env.reset()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            _, _, terminated, truncated, _ = env.step(zeros)
            if terminated or truncated:
                env.reset()
        steps += 100
    env.close()
    return steps / (time.perf_counter() - start)


def bare_rate(task: str, seconds: float, cores: list[int]) -> float:
    """Summed physics steps/s of one bare process per core in `cores` (each pinned to its
    core), run together."""
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--bare-worker", task, str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda core=core: os.sched_setaffinity(0, {core}),
        )
        for core in cores
    ]
    rates = [float(worker.communicate(timeout=seconds + 120)[0].split()[-1]) for worker in workers]
    return sum(rates)


def ours_rate(
    task: str, env_steps: int, learning_starts: int, warmup: int, cores: int
) -> tuple[float, float]:
    """(physics steps/s, updates/s) of the soccer preset training, from its own progress.csv
    rows after learning_starts + warmup. cores 1: one in-process env, one thread, pinned."""
    log_every = max(500, env_steps // 10 // 50 * 50)  # ten rows or more in the window
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        command = [
            sys.executable, "-m", "soccer_td3", "train", "--preset", "soccer", "--env", task,
            "--timesteps", str(learning_starts + env_steps), "--learning-starts",
            str(learning_starts), "--eval-freq", "0", "--checkpoint-freq", "0",
            "--log-interval", str(log_every), "--device", "cpu", "--save-dir", str(run),
        ]  # fmt: skip
        environment = dict(os.environ)
        environment.pop("OMP_NUM_THREADS", None)  # two cores: the threads the run chooses
        if cores == 1:
            command += ["--num-envs", "1", "--no-async-envs"]
            environment["OMP_NUM_THREADS"] = "1"
        one_core = (lambda: os.sched_setaffinity(0, {0})) if cores == 1 else None
        done = subprocess.run(
            command, env=environment, preexec_fn=one_core, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"soccer-td3 train failed:\n{done.stderr[-2000:]}")
        with (run / "progress.csv").open() as handle:
            rows = [r for r in csv.DictReader(handle) if r.get(TIME_KEY)]
    timed = [r for r in rows if int(float(r[STEP_KEY])) >= learning_starts + warmup]
    if len(timed) < 2:
        raise SystemExit("too few progress rows after the warm-up: raise --env-steps")
    first, last = timed[0], timed[-1]
    seconds = float(last[TIME_KEY]) - float(first[TIME_KEY])
    steps = int(float(last[STEP_KEY])) - int(float(first[STEP_KEY]))
    updates = float(last["train/n_updates"]) - float(first["train/n_updates"])
    return steps / seconds, updates / seconds


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--bare-worker"]:  # one bare process of bare_rate
        print(bare_steps(argv[1], float(argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=TASK)
    parser.add_argument(
        "--env-steps", type=int, default=60_000, help="physics steps after learning_starts"
    )
    parser.add_argument("--learning-starts", type=int, default=5_000)
    parser.add_argument(
        "--warmup", type=int, default=5_000, help="steps after learning_starts left untimed"
    )
    parser.add_argument("--bare-seconds", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="shorter windows (< 5 minutes)")
    args = parser.parse_args(argv)
    if args.quick:
        args.env_steps, args.bare_seconds = 25_000, 15.0
    decimation = 50  # the soccer preset's decision period in physics steps
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"task {args.task}; ours: the soccer preset, {args.env_steps} physics steps timed "
        f"after learning_starts {args.learning_starts} + warm-up {args.warmup}"
    )
    two_cores = sorted(os.sched_getaffinity(0))[:2]
    bare_1 = bare_rate(args.task, args.bare_seconds, [two_cores[0]])
    print(f"bare, 1 core:   {bare_1:8.0f} physics steps/s")
    bare_2 = bare_rate(args.task, args.bare_seconds, two_cores)
    print(f"bare, 2 cores:  {bare_2:8.0f} physics steps/s")
    ours_1, updates_1 = ours_rate(
        args.task, args.env_steps, args.learning_starts, args.warmup, cores=1
    )
    print(
        f"ours, 1 core:   {ours_1:8.0f} physics steps/s, {ours_1 / decimation:6.1f} "
        f"decisions/s, {updates_1:6.1f} updates/s"
    )
    ours_2, updates_2 = ours_rate(
        args.task, 2 * args.env_steps, args.learning_starts, args.warmup, cores=2
    )
    print(
        f"ours, 2 cores:  {ours_2:8.0f} physics steps/s, {ours_2 / decimation:6.1f} "
        f"decisions/s, {updates_2:6.1f} updates/s"
    )
    print(f"bare scaling 2 cores: {bare_2 / bare_1:.2f}")
    print(f"ratio_bare={ours_1 / bare_1:.2f}")
    print(f"scaling_2cores={ours_2 / ours_1:.2f}")


if __name__ == "__main__":
    main()
