"""`soccer-td3`: the front door. The one place a UserError becomes one line and exit code 2.

Every TrainConfig field is a `train` flag, generated from the model so the help text is the
field's description and there is no second list of settings to keep in step. Every multi-word
flag takes both spellings (`--save_dir` as in the seed's commands, `--save-dir` as most CLIs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from soccer_td3.config import DEFAULT_TASK, PRESETS, TrainConfig, build_config, parse_set_overrides
from soccer_td3.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as a UserError (one line) instead of usage + exit."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message}; see `{self.prog} --help`")


def _spellings(name: str) -> list[str]:
    hyphen, underscore = "--" + name.replace("_", "-"), "--" + name.replace("-", "_")
    return [hyphen] if hyphen == underscore else [hyphen, underscore]


def add_set_option(parser: argparse.ArgumentParser, example: str) -> None:
    """`--set KEY=VALUE`, repeatable, into args.set_pairs (read by parse_set_overrides)."""
    parser.add_argument(
        "--set",
        dest="set_pairs",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"{example} (repeatable).",
    )


def _field_help(name: str) -> str:
    field = TrainConfig.model_fields[name]
    default = field.get_default(call_default_factory=True)
    if isinstance(default, list):
        default = ",".join(map(str, default))
    if name == "shaping":
        default = "none"
    return f"{field.description} (default: {default})"


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="Train a TD3 agent.",
        description="Train TD3 on a soccer task. Settings apply in this order, later winning: "
        "--preset, --config, --set, then the flags below.",
    )
    train.add_argument(
        "--preset",
        default="balanced",
        choices=list(PRESETS),
        help="Named recipe to start from (default: balanced, the seed's Task 3).",
    )
    train.add_argument(
        "--config", type=Path, help="YAML file of settings (e.g. a run's config.yaml)."
    )
    add_set_option(train, "Override one setting, e.g. --set learning_rate=5e-4")
    train.add_argument(
        *_spellings("save_dir"),
        dest="save_dir",
        type=Path,
        default=Path("runs/td3"),
        help="Run folder to write; if it already holds a run, a new numbered "
        "folder beside it is used (default: runs/td3).",
    )
    train.add_argument(
        *_spellings("use_wandb"),
        dest="use_wandb",
        action="store_true",
        help="Also log to Weights & Biases (offline unless WANDB_API_KEY is set).",
    )
    train.add_argument(
        *_spellings("second_env"),
        dest="second_env",
        action="append",
        default=[],
        metavar="TASK_ID",
        help="Another task for the same agent (the seed's flag): --env A --second_env B "
        "trains one agent on both, like --env A --env B.",
    )
    train.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_OR_CHECKPOINT",
        help="Continue a run from its latest checkpoint (or a checkpoints/step_<N> folder) in "
        "the same folder; its config.yaml is the base, flags here override (e.g. --timesteps).",
    )
    train.add_argument(
        "--net",
        metavar="SIZES",
        help="Hidden layer sizes of actor and critics at once, e.g. 512,256,128,64 "
        "(--actor-net / --critic-net, when given, win for their network).",
    )
    for name in TrainConfig.model_fields:
        if name == "env":
            train.add_argument(
                "--env",
                dest="env",
                action="append",
                default=argparse.SUPPRESS,
                metavar="TASK_ID",
                help=_field_help(name),
            )
        elif TrainConfig.model_fields[name].annotation is bool:
            train.add_argument(
                *_spellings(name),
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=_field_help(name),
            )
        else:
            train.add_argument(
                *_spellings(name),
                dest=name,
                default=argparse.SUPPRESS,
                metavar=name.upper(),
                help=_field_help(name),
            )


def _add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="Play a trained actor and score it as the competition does.",
        description="Deterministic episodes (or noisy with --noise) on each task: return, "
        "length, success rate and the Booster Soccer Showdown score.",
    )
    evaluate.add_argument(
        "path",
        type=Path,
        help="A run folder, its final/, an actor file, or an export folder (played through "
        "the SAI SDK as the platform plays it).",
    )
    evaluate.add_argument(
        "--env",
        action="append",
        metavar="TASK_ID",
        help="Task(s) to play (repeatable); default: the tasks it trained on.",
    )
    evaluate.add_argument(
        "--episodes", type=int, default=10, help="Episodes per task (default 10)."
    )
    evaluate.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="Std of Gaussian noise on the normalised action (default 0).",
    )
    evaluate.add_argument("--seed", type=int, default=0, help="Seed of the first episode.")
    evaluate.add_argument(
        "--video",
        type=Path,
        default=None,
        metavar="OUT.mp4",
        help="Also record the tasks one after another into this mp4.",
    )
    evaluate.add_argument(
        "--video-seconds",
        "--video_seconds",
        dest="video_seconds",
        type=float,
        default=10.0,
        help="Seconds of play per task in the video (default 10).",
    )
    evaluate.add_argument(
        "--json",
        type=Path,
        default=None,
        help="Where to write the results (default: eval.json beside the weights).",
    )


def _add_compare_parsers(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser(
        "compare",
        help="Train presets x seeds and write a report (baseline versus deep, and more).",
        description="Each preset x seed is an ordinary run under OUT/<preset>/seed<k>, run in "
        "parallel on disjoint cores; the same command again resumes an interrupted comparison. "
        "Writes OUT/report.md, curves.png and curves.svg.",
    )
    compare.add_argument(
        "--presets",
        nargs="+",
        default=["baseline", "balanced"],
        choices=list(PRESETS),
        metavar="PRESET",
        help=f"Presets to compare ({', '.join(PRESETS)}; default: baseline balanced).",
    )
    compare.add_argument("--seeds", type=int, default=3, help="Seeds per preset (default 3).")
    compare.add_argument(
        "--timesteps", type=int, default=100_000, help="Env steps per run (default 100000)."
    )
    compare.add_argument(
        "--env",
        action="append",
        metavar="TASK_ID",
        help=f"Task(s), repeatable (default {DEFAULT_TASK}).",
    )
    compare.add_argument(
        *_spellings("eval_freq"),
        dest="eval_freq",
        type=int,
        default=None,
        help="Env steps between evaluations (default: timesteps/20).",
    )
    compare.add_argument(
        *_spellings("eval_episodes"),
        dest="eval_episodes",
        type=int,
        default=5,
        help="Episodes per task per evaluation (default 5).",
    )
    add_set_option(compare, "Another setting for every run, e.g. --set learning_starts=5000")
    compare.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="Runs at once (default: one per available core).",
    )
    compare.add_argument(
        "--out", type=Path, default=Path("runs/compare"), help="Folder (default runs/compare)."
    )
    compare.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="Eval return for 'steps to threshold' (default: the weakest final return).",
    )
    report = commands.add_parser(
        "report",
        help="Rebuild report.md and curves from existing runs, without training.",
        description="Runs whose settings differ only in the seed are one variant.",
    )
    report.add_argument(
        "paths", nargs="+", type=Path, metavar="RUN_DIR", help="Run or comparison folders."
    )
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Where to write (default: the comparison folder given, else ./report).",
    )
    report.add_argument("--threshold", type=float, default=None, help="As for compare.")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="soccer-td3", description="Fast TD3 for the Booster T1 soccer tasks.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train_parser(commands)
    _add_evaluate_parser(commands)
    _add_compare_parsers(commands)
    from soccer_td3.tuning.command import add_tune_parser

    add_tune_parser(commands)
    export = commands.add_parser(
        "export",
        help="Write a trained actor as a standalone submission (TorchScript or ONNX).",
        description="Actor (obs -> normalised action in [-1, 1], which the SAI SDK maps onto "
        "the torque bounds) plus preprocessor.py, submission.json and a README, loadable "
        "without soccer_td3.",
    )
    export.add_argument("path", type=Path, help="A run folder, its final/ or an actor file.")
    export.add_argument("--out", type=Path, required=True, help="Folder to write into.")
    export.add_argument(
        "--format",
        default="torchscript",
        choices=["torchscript", "onnx"],
        help="torchscript (torch.jit.trace, what SAI loads) or onnx.",
    )
    commands.add_parser(
        "envs", help="List the known tasks with their observation and action sizes."
    )
    return parser


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides: dict[str, Any] = parse_set_overrides(args.set_pairs)
    if args.net is not None:
        overrides.update(actor_net=args.net, critic_net=args.net)
    overrides.update(
        {name: getattr(args, name) for name in TrainConfig.model_fields if hasattr(args, name)}
    )
    if args.second_env:
        overrides["env"] = [*getattr(args, "env", [DEFAULT_TASK]), *args.second_env]
    return build_config(args.preset, args.config, overrides)


def run_train(args: argparse.Namespace) -> None:
    from rich.console import Console

    from soccer_td3.training.loop import load_init_weights, template_networks, train
    from soccer_td3.training.run_dir import new_run_dir
    from soccer_td3.training.settings import resolve_cpu_matmul
    from soccer_td3.training.signals import RedFlagStop, TrainingInterrupted

    console = Console(stderr=True)
    checkpoint = None
    if args.resume is not None:
        from soccer_td3.training.checkpoint import check_compatible, load_checkpoint

        checkpoint = load_checkpoint(args.resume)  # a bad checkpoint fails before any write
        run_dir = checkpoint.path.parent.parent
        args.config = args.config or run_dir / "config.yaml"
    config = _config_from_args(args)
    init = load_init_weights(config)  # a bad --init-from fails here, before anything is written
    if checkpoint is not None:
        if config.env != checkpoint.state["tasks"]:
            raise UserError(
                f"checkpoint {checkpoint.path} is from tasks {checkpoint.state['tasks']}, not "
                f"{config.env}; resume it with its own tasks"
            )
        check_compatible(checkpoint, *template_networks(config))
    else:
        run_dir = new_run_dir(args.save_dir)
        if run_dir != args.save_dir:
            console.print(f"{args.save_dir} already holds a run; writing this one to {run_dir}")
    config, matmul_line = resolve_cpu_matmul(config)  # config.yaml records the choice
    if matmul_line:
        console.print(matmul_line)
    config.to_yaml(run_dir / "config.yaml")

    try:
        final_dir = train(
            config,
            run_dir,
            use_wandb=args.use_wandb,
            console=console,
            init=init,
            resume=checkpoint,
        )
    except RedFlagStop as flag:
        print(
            f"{flag}; stopped by --strict-redflags. Resume with: soccer-td3 train --resume "
            f"{run_dir} (and the remedy's settings)",
            file=sys.stderr,
        )
        raise SystemExit(3) from None
    except TrainingInterrupted as stopped:
        print(
            f"interrupted at step {stopped.step}; checkpoint written to {stopped.checkpoint}. "
            f"Resume with: soccer-td3 train --resume {run_dir}"
        )
        return
    print(f"run folder: {run_dir}")
    print(f"  metrics:  {run_dir / 'progress.csv'}  (tensorboard --logdir {run_dir / 'tb'})")
    print(f"  model:    {final_dir}/actor.safetensors, critic.safetensors")


def run_evaluate(args: argparse.Namespace) -> None:
    from soccer_td3.reports.evaluate import (
        evaluate_task,
        find_actor_file,
        format_table,
        load_policy,
        write_json,
    )
    from soccer_td3.reports.submission import evaluate_submission, is_submission, read_manifest

    if args.episodes <= 0:
        raise UserError(f"--episodes {args.episodes} must be positive")
    if args.noise < 0:
        raise UserError(f"--noise {args.noise} must be >= 0")
    if is_submission(args.path):
        if args.noise or args.video is not None:
            raise UserError(
                "--noise and --video play run folders; a submission folder plays as the "
                "platform plays it (deterministic, no video): evaluate the run it came from"
            )
        tasks = args.env or read_manifest(args.path)["tasks"]
        if not tasks:
            raise UserError(f"{args.path} does not record its tasks; name them with --env")
        results = evaluate_submission(args.path, tasks, args.episodes, args.seed)
        print(format_table(results))
        out = args.json or args.path / "eval.json"
        write_json(results, out)
        print(f"results: {out}")
        return
    if args.video is not None:
        from soccer_td3.reports.video import use_offscreen_gl

        use_offscreen_gl()  # before MuJoCo is imported
    actor, meta = load_policy(args.path)
    tasks = args.env or meta.get("tasks") or []
    if not tasks:
        raise UserError(f"{args.path} does not record its tasks; name them with --env")
    obs_mode = meta.get("obs", "raw")
    results = [
        evaluate_task(actor, obs_mode, task, args.episodes, args.seed, args.noise) for task in tasks
    ]
    print(format_table(results))
    out = args.json or find_actor_file(args.path).parent.parent / "eval.json"
    write_json(results, out)
    print(f"results: {out}")
    if args.video is not None:
        from soccer_td3.reports.video import record_video

        frames = record_video(
            actor, obs_mode, tasks, args.video, args.video_seconds, seed=args.seed
        )
        print(f"video: {args.video} ({frames} frames)")


def run_compare(args: argparse.Namespace) -> None:
    from soccer_td3.cores import available_cores, core_slots
    from soccer_td3.reports.compare import (
        ComparePlan,
        ComparisonInterrupted,
        record_plan,
        run_comparison,
        validate,
    )
    from soccer_td3.reports.report import write_report
    from soccer_td3.reports.runs import find_runs

    if args.timesteps <= 0:
        raise UserError(f"--timesteps {args.timesteps} must be positive")
    jobs = len(available_cores()) if args.jobs is None else args.jobs
    core_slots(jobs)  # refuses --jobs 0 or more jobs than cores, before anything is written
    settings = parse_set_overrides(args.set_pairs) | {
        "env": args.env or [DEFAULT_TASK],
        "timesteps": args.timesteps,
        "eval_freq": args.eval_freq or max(args.timesteps // 20, 1),
        "eval_episodes": args.eval_episodes,
    }
    plan = ComparePlan(list(dict.fromkeys(args.presets)), args.seeds, settings)
    validate(plan)
    record_plan(plan, args.out)
    try:
        failed = run_comparison(plan, args.out, jobs)
    except ComparisonInterrupted:
        print(f"interrupted; run the same command again to resume the comparison in {args.out}")
        return
    runs = [r for r in find_runs([args.out]) if r.curve]
    if not runs:
        raise UserError(f"no run in {args.out} has an evaluation yet; see {args.out / 'logs'}")
    report = write_report(runs, args.out, args.threshold)
    print(f"report: {report}  (curves: {args.out / 'curves.png'})")
    if failed:
        names = ", ".join(run.name for run in failed)
        raise UserError(f"{names} did not finish; the report holds the rest. See {args.out}/logs")


def run_report(args: argparse.Namespace) -> None:
    from soccer_td3.reports.report import write_report
    from soccer_td3.reports.runs import find_runs

    runs = [r for r in find_runs(args.paths) if r.curve]
    if not runs:
        raise UserError(
            "none of these runs has an evaluation (eval/* rows in progress.csv); train with "
            "--eval-freq to report on them"
        )
    out = args.out
    if out is None:
        single = len(args.paths) == 1 and not (args.paths[0] / "config.yaml").is_file()
        out = args.paths[0] if single else Path("report")
    print(f"report: {write_report(runs, out, args.threshold)}")


def run_envs() -> None:
    from soccer_td3.envs.registry import TASKS

    print(f"{'task id':32} {'obs':>4} {'action':>6} {'max steps':>9}  robot")
    for spec in TASKS.values():
        print(
            f"{spec.task_id:32} {spec.obs_dim:>4} {spec.act_dim:>6} "
            f"{spec.max_episode_steps:>9}  {spec.robot}"
        )


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "train":
            run_train(args)
        elif args.command == "evaluate":
            run_evaluate(args)
        elif args.command == "export":
            from soccer_td3.export import export

            print(f"exported: {export(args.path, args.out, args.format)}")
        elif args.command == "compare":
            run_compare(args)
        elif args.command == "report":
            run_report(args)
        elif args.command == "tune":
            from soccer_td3.tuning.command import run_tune

            run_tune(args)
        elif args.command == "envs":
            run_envs()
    except UserError as exc:
        print(f"soccer-td3: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
