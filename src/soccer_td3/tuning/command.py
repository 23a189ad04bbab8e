"""`soccer-td3 tune`: its flags, the checks that run before anything is written, and the run.

Imports stay light, also in add_tune_parser (cli.py builds every command's parser for any
command): Optuna, torch and the simulator load only when `tune` runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from soccer_td3.errors import UserError

if TYPE_CHECKING:
    from soccer_td3.config import TrainConfig

DEFAULT_SAVE_DIR = Path("runs/tune")
DEFAULT_STUDY = "soccer-td3"
EVALS_PER_TRIAL = 5  # when --set eval_freq is not given: the pruner's five looks at a trial
PRUNERS = ("median", "halving", "none")  # built by worker.make_pruner
DEFAULT_HEARTBEAT_INTERVAL = 60  # seconds; Optuna's documented example
DEFAULT_GRACE_PERIOD = 180  # three missed heartbeats: a busy database is not a dead worker


def add_tune_parser(commands: argparse._SubParsersAction) -> None:
    from soccer_td3.flags import add_save_dir, add_settings, spellings

    tune = commands.add_parser(
        "tune",
        help="Search hyperparameters with Optuna (one machine or many on one database).",
        description="An Optuna study (TPE sampler, pruning on the evaluation score) over "
        "learning_rate, batch_size, tau, target_policy_noise, policy_delay, gamma, net and "
        "shaping. Every worker started with the same --storage and --study-name joins the "
        "same study; --trials counts the study's trials, not each worker's.",
    )
    tune.add_argument(
        "--trials",
        type=int,
        metavar="N",
        default=20,
        help="Finished (complete or pruned) trials the study needs, over all workers (default 20).",
    )
    tune.add_argument(
        *spellings("timesteps_per_trial"),
        "--timesteps",
        dest="timesteps_per_trial",
        type=int,
        metavar="STEPS",
        default=100_000,
        help="Env steps each trial trains for (default 100000).",
    )
    tune.add_argument(
        "--storage",
        metavar="URL",
        help="Study database shared by the workers, e.g. postgresql://user:pw@host:5432/db "
        "(default: sqlite:///SAVE_DIR/study.db).",
    )
    tune.add_argument(
        *spellings("study_name"),
        dest="study_name",
        metavar="NAME",
        default=DEFAULT_STUDY,
        help=f"Study to create or join (default {DEFAULT_STUDY}).",
    )
    tune.add_argument(
        *spellings("n_jobs"),
        dest="n_jobs",
        type=int,
        metavar="K",
        default=1,
        help="Worker processes on this machine (each on its own share of the CPU cores).",
    )
    add_save_dir(
        tune,
        DEFAULT_SAVE_DIR,
        "Folder of this machine's trial runs (trial_<n>/) and of the outputs: "
        "best_config.yaml, trials.csv, plots",
    )
    tune.add_argument(
        *spellings("search_space"),
        dest="search_space",
        type=Path,
        metavar="PATH.yaml",
        help="YAML file narrowing the search, e.g. 'learning_rate: {low: 1.0e-4, high: "
        "1.0e-3, log: true}', 'batch_size: [128, 256]', 'net: balanced' (fixed).",
    )
    add_settings(
        tune,
        skip=("timesteps",),  # --timesteps is --timesteps-per-trial here
        defaults={"eval_freq": f"timesteps per trial / {EVALS_PER_TRIAL}"},
    )
    tune.add_argument(
        "--pruner",
        choices=PRUNERS,
        default="median",
        help="Stop poor trials early on their evaluation score: median (after 5 trials, past "
        "a third of a trial), halving (successive halving) or none (default median).",
    )
    tune.add_argument(
        *spellings("heartbeat_interval"),
        dest="heartbeat_interval",
        type=int,
        default=DEFAULT_HEARTBEAT_INTERVAL,
        metavar="SECONDS",
        help="How often a running trial tells the database it is alive "
        f"(default {DEFAULT_HEARTBEAT_INTERVAL}); the same for every worker of a study.",
    )
    tune.add_argument(
        *spellings("grace_period"),
        dest="grace_period",
        type=int,
        default=DEFAULT_GRACE_PERIOD,
        metavar="SECONDS",
        help="Silence after which a running trial counts as dead, is failed and retried "
        f"(default {DEFAULT_GRACE_PERIOD}); the same for every worker of a study.",
    )
    tune.set_defaults(handler=run_tune)


def _positive(value: int, flag: str, example: str) -> None:
    if value < 1:
        raise UserError(f"{flag} {value} must be a positive integer, like {flag} {example}")


def base_config(args: argparse.Namespace) -> TrainConfig:
    """Every trial's settings before the searched ones, with a budget a trial can be scored on."""
    from soccer_td3.config import build_config
    from soccer_td3.flags import settings_overrides

    steps = args.timesteps_per_trial
    overrides = settings_overrides(args) | {"timesteps": steps}
    config = build_config(args.preset, args.config, overrides)
    if config.run.eval_freq == 0:
        config.run.eval_freq = max(1, steps // EVALS_PER_TRIAL)
    if config.run.eval_freq > steps:
        raise UserError(
            f"eval_freq {config.run.eval_freq} exceeds --timesteps-per-trial {steps}: no "
            "evaluation would score a trial; lower eval_freq (--set eval_freq=N)"
        )
    if config.td3.learning_starts >= steps:
        raise UserError(
            f"learning_starts {config.td3.learning_starts} is not below --timesteps-per-trial "
            f"{steps}: every trial would act at random; lower it (--set learning_starts=N)"
        )
    if config.run.checkpoint_freq > steps:
        config.run.checkpoint_freq = steps  # a checkpoint at the end: any trial can be resumed
    from soccer_td3.training.settings import resolve_device  # torch: after the checks above

    resolve_device(config.speed.device)  # no CUDA: one line now, not a failure in every trial
    return config


def run_tune(args: argparse.Namespace) -> None:
    from soccer_td3.cores import core_slots
    from soccer_td3.training.run_dir import writable_dir
    from soccer_td3.tuning.outputs import write_outputs
    from soccer_td3.tuning.space import DEFAULT_SPACE, check_space, load_search_space
    from soccer_td3.tuning.storage import (
        default_storage_url,
        lock_errors_in_words,
        shown_url,
        with_driver,
    )

    _positive(args.trials, "--trials", "20")
    _positive(args.timesteps_per_trial, "--timesteps-per-trial", "100000")
    _positive(args.n_jobs, "--n-jobs", "2")
    core_slots(args.n_jobs, "--n-jobs")  # more workers than cores: refused before any write
    base = base_config(args)
    if args.search_space is not None:
        space = load_search_space(args.search_space)
        check_space(space, base, f"search space file {args.search_space}")
    else:
        space = dict(DEFAULT_SPACE)
        # e.g. --set buffer_size=256 against batch sizes up to 512: refused now, not in trial 9
        check_space(space, base, "the default search space (narrow it with --search-space)")
    # Everything a trial's score depends on: workers that differ in any of it are refused
    # rather than mixing incomparable scores (or failing on a changed distribution).
    settings = {
        "env": base.environment.env,
        "timesteps_per_trial": args.timesteps_per_trial,
        "heartbeat_interval": args.heartbeat_interval,
        "grace_period": args.grace_period,
        "trial_base": {k: v for k, v in base.flat(mode="json").items() if k != "device"},
        "search_space": {name: param.describe() for name, param in sorted(space.items())},
        "pruner": args.pruner,
    }
    from soccer_td3.tuning.worker import (  # torch: after the settings are known to be good
        TuneInterrupted,
        WorkerPlan,
        open_plan_study,
        run_workers,
    )

    # The URL with its driver: also what optuna-dashboard needs to be given.
    storage_url = with_driver(args.storage) if args.storage else default_storage_url(args.save_dir)
    plan = WorkerPlan(
        storage_url=storage_url,
        study_name=args.study_name,
        heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period,
        base=base.flat(),
        space=space,
        save_dir=args.save_dir,
        trials=args.trials,
        pruner=args.pruner,
        study_settings=settings,
        quiet=args.n_jobs > 1,
    )
    if args.storage is None:
        writable_dir(args.save_dir, "--save-dir")  # the default database lives in it
    with lock_errors_in_words(plan.storage_url):
        study = open_plan_study(plan)
        writable_dir(args.save_dir, "--save-dir")
        url = shown_url(plan.storage_url)
        print(
            f"study {plan.study_name!r} in {url}: {plan.trials} trials of "
            f"{args.timesteps_per_trial} steps, {args.n_jobs} worker(s) here; "
            f"watch it: optuna-dashboard {url}",
            flush=True,
        )
        try:
            run_workers(plan, args.n_jobs, study)
        except TuneInterrupted as stopped:
            print(stopped)
        for line in write_outputs(study, args.save_dir):
            print(line)
