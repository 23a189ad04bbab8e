"""`soccer-td3`: the front door. The one place a UserError becomes one line and exit code 2.

The settings flags (one per TrainConfig field, --set, --config, --preset, --env, --save-dir)
come from flags.py, so train, compare and tune take the same ones. Each subcommand names its
handler in its parser's defaults: main() dispatches on that, not on the command's name.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
from pathlib import Path

from soccer_td3.config import DEFAULT_TASK, PRESETS, load_yaml
from soccer_td3.errors import UserError
from soccer_td3.flags import (
    Parser,
    add_save_dir,
    add_settings,
    config_from_args,
    settings_overrides,
    spellings,
)

SCRIPTED_CHOICES = ("chaser", "stand")  # reports/scripted.py's SCRIPTED_POLICIES

# Each command's help ends with examples to copy, as rl-zoo3's does.
EXAMPLES: dict[str, str] = {
    "soccer-td3": """examples:
  soccer-td3 evaluate --policy chaser --env LowerT1GoaliePenaltyKick-v0 --episodes 5
  soccer-td3 train --preset soccer --env LowerT1GoaliePenaltyKick-v0 --save-dir runs/goalie
  soccer-td3 export runs/goalie/best --save-dir submission
  soccer-td3 evaluate submission --episodes 5
`soccer-td3 COMMAND --help` lists each command's flags.""",
    "train": """examples:
  soccer-td3 train --preset soccer --env LowerT1GoaliePenaltyKick-v0 --save-dir runs/goalie
  soccer-td3 train --preset soccer --prior chaser --env LowerT1KickToTarget-v0 --max-minutes 45
  soccer-td3 train --env LowerT1GoaliePenaltyKick-v0 --env LowerT1KickToTarget-v0 --net 256,256
  soccer-td3 train --resume runs/goalie --timesteps 3000000""",
    "evaluate": """examples:
  soccer-td3 evaluate runs/goalie/best --episodes 5 --noise 0.05
  soccer-td3 evaluate runs/goalie --episodes 1 --video goalie.mp4 --video-seconds 6
  soccer-td3 evaluate submission --episodes 5          # through the SAI SDK
  soccer-td3 evaluate --policy chaser --env LowerT1ObstaclePenaltyKick-v0""",
    "compare": """examples:
  soccer-td3 compare --presets fast balanced --seeds 2 --jobs 2 --max-minutes 20""",
    "report": """examples:
  soccer-td3 report runs/compare""",
    "tune": """examples:
  soccer-td3 tune --env LowerT1GoaliePenaltyKick-v0 --trials 40 --timesteps-per-trial 100000""",
    "export": """examples:
  soccer-td3 export runs/goalie/best --save-dir submission
  soccer-td3 export runs/goalie --format onnx --save-dir submission_onnx""",
    "envs": """examples:
  soccer-td3 envs""",
}


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="Train a TD3 agent.",
        description="Train TD3 on a soccer task. Settings apply in this order, later winning: "
        "--preset, --config, --set, then the flags below.",
    )
    add_settings(train)
    add_save_dir(
        train,
        Path("runs/td3"),
        "Run folder to write; if it already holds a run, a new numbered folder beside it is used",
    )
    train.add_argument(
        *spellings("use_wandb"),
        dest="use_wandb",
        action="store_true",
        help="Also log to Weights & Biases (offline unless WANDB_API_KEY is set).",
    )
    train.add_argument(
        *spellings("second_env"),
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
    train.set_defaults(handler=run_train)


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
        nargs="?",
        help="A run folder, its final/, an actor file, or an export folder (played through "
        "the SAI SDK as the platform plays it). Leave it out with --policy.",
    )
    evaluate.add_argument(
        "--policy",
        choices=SCRIPTED_CHOICES,
        default=None,
        help="Play a scripted baseline instead of a trained actor (needs --env): chaser "
        "(walk behind the ball, then through it) or stand (the zero walking command).",
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
        *spellings("as_submitted"),
        dest="as_submitted",
        action="store_true",
        help="Re-decide the action at every env step, as the platform calls a submission, "
        "instead of holding it `decimation` env steps as in training (PD runs).",
    )
    evaluate.add_argument(
        "--video",
        type=Path,
        default=None,
        metavar="OUT.mp4",
        help="Also record the tasks one after another into this mp4, and a half-size GIF "
        "of it beside it (OUT.gif, which a code host's page shows).",
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
        help="Where to write the results (default: eval.json in --save-dir).",
    )
    evaluate.add_argument(
        *spellings("save_dir"),
        dest="save_dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="Folder of eval.json (default: the run folder, or the export folder).",
    )
    evaluate.set_defaults(handler=run_evaluate)


COMPARE_DEFAULTS = {"timesteps": 100_000, "eval_episodes": 5}


def _add_compare_parsers(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser(
        "compare",
        help="Train presets x seeds and write a report (baseline versus deep, and more).",
        description="Each preset x seed is an ordinary run under SAVE_DIR/<preset>/seed<k>, "
        "run in parallel on disjoint cores; the same command again resumes an interrupted "
        "comparison. Writes SAVE_DIR/report.md, curves.png and curves.svg. The settings flags "
        "apply to every run, over each preset.",
    )
    compare.add_argument(
        "--presets",
        "--preset",
        dest="presets",
        nargs="+",
        default=["baseline", "balanced"],
        choices=list(PRESETS),
        metavar="PRESET",
        help=f"Presets to compare ({', '.join(PRESETS)}; default: baseline balanced).",
    )
    compare.add_argument("--seeds", type=int, default=3, help="Seeds per preset (default 3).")
    add_settings(
        compare,
        preset=False,
        defaults={**COMPARE_DEFAULTS, "eval_freq": "timesteps/20", "env": DEFAULT_TASK},
    )
    compare.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="Runs at once (default: one per available core).",
    )
    add_save_dir(compare, Path("runs/compare"), "Folder of the comparison", "--out")
    compare.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="Eval return for 'steps to threshold' (default: the weakest final return).",
    )
    compare.set_defaults(handler=run_compare)
    report = commands.add_parser(
        "report",
        help="Rebuild report.md and curves from existing runs, without training.",
        description="Runs whose settings differ only in the seed are one variant.",
    )
    report.add_argument(
        "paths", nargs="+", type=Path, metavar="RUN_DIR", help="Run or comparison folders."
    )
    report.add_argument(
        *spellings("save_dir"),
        "--out",
        dest="save_dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="Where to write (default: the comparison folder given, else ./report).",
    )
    report.add_argument("--threshold", type=float, default=None, help="As for compare.")
    report.set_defaults(handler=run_report)


def _add_export_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="Write a trained actor as a standalone submission (TorchScript or ONNX).",
        description="Actor (obs -> normalised action in [-1, 1], which the SAI SDK maps onto "
        "the torque bounds) plus preprocessor.py, submission.json and a README, loadable "
        "without soccer_td3.",
    )
    export.add_argument("path", type=Path, help="A run folder, its final/ or an actor file.")
    export.add_argument(
        *spellings("save_dir"),
        "--out",
        dest="save_dir",
        type=Path,
        required=True,
        metavar="DIR",
        help="Folder to write the submission into.",
    )
    export.add_argument(
        "--format",
        default="torchscript",
        choices=["torchscript", "onnx"],
        help="torchscript (torch.jit.trace, what SAI loads) or onnx.",
    )
    export.set_defaults(handler=run_export)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="soccer-td3", description="Fast TD3 for the Booster T1 soccer tasks.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_train_parser(commands)
    _add_evaluate_parser(commands)
    _add_compare_parsers(commands)
    from soccer_td3.tuning.command import add_tune_parser

    add_tune_parser(commands)
    _add_export_parser(commands)
    envs = commands.add_parser(
        "envs", help="List the known tasks with their observation and action sizes."
    )
    envs.set_defaults(handler=run_envs)
    for name, command in [("soccer-td3", parser), *commands.choices.items()]:
        command.epilog = EXAMPLES[name]
        command.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def trained_any_step(run_dir: Path) -> bool:
    """Whether a run folder holds anything of training: a checkpoint or a metrics row."""
    progress = run_dir / "progress.csv"
    rows = progress.read_text().count("\n") if progress.is_file() else 0
    return (run_dir / "checkpoints").exists() or rows > 1


def run_train(args: argparse.Namespace) -> None:
    checkpoint = None
    if args.resume is not None:
        from soccer_td3.training.checkpoint import load_checkpoint, run_folder

        checkpoint = load_checkpoint(args.resume)  # a bad checkpoint fails before any write
        recorded = run_folder(checkpoint) / "config.yaml"
        if args.config is None and not recorded.is_file():
            raise UserError(
                f"{run_folder(checkpoint)} has no config.yaml, the settings its checkpoint was "
                "trained with; restore it, or pass those settings with --config FILE"
            )
        args.config = args.config or recorded
    config = config_from_args(args)  # a bad setting is refused before torch loads (2 s)

    from rich.console import Console

    from soccer_td3.training.checkpoint import has_checkpoint
    from soccer_td3.training.loop import train
    from soccer_td3.training.prepare import prepare_run
    from soccer_td3.training.run_dir import remove_what_we_wrote
    from soccer_td3.training.signals import RedFlagStop, TrainingInterrupted

    console = Console(stderr=True)
    save_dir = None if checkpoint is not None else args.save_dir  # a resume stays in its folder
    prepared = prepare_run(config, save_dir, checkpoint)
    run_dir, found = prepared.run_dir, prepared.found
    if prepared.moved:
        console.print(
            f"{args.save_dir} already holds a run (or another process is starting one there); "
            f"writing this one to {run_dir}"
        )
    config, init = prepared.config, prepared.init

    with prepared.claim:  # given up as the command ends, as the process's end would
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
        except (UserError, KeyboardInterrupt) as exc:
            if checkpoint is None and not trained_any_step(run_dir):
                remove_what_we_wrote(run_dir, found)  # an error or Ctrl-C before the first step
                raise
            if (
                isinstance(exc, UserError)
                and "--resume" not in str(exc)
                and has_checkpoint(run_dir)
            ):
                raise UserError(
                    f"{exc}. The run stopped; its last checkpoint is kept: resume with "
                    f"soccer-td3 train --resume {run_dir}"
                ) from None
            raise
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
    from soccer_td3.envs.control import ControlSpec
    from soccer_td3.reports.evaluate import find_actor_file, format_table, load_policy, write_json
    from soccer_td3.reports.submission import evaluate_submission, is_submission, read_manifest
    from soccer_td3.training.evaluation import evaluate_task, policy_action

    if args.episodes <= 0:
        raise UserError(f"--episodes {args.episodes} must be positive")
    if not args.noise >= 0:  # NaN too
        raise UserError(f"--noise {args.noise} must be a number >= 0")
    if args.policy is not None:
        if args.path is not None:
            raise UserError(
                f"give either a trained policy ({args.path}) or --policy {args.policy}, not both"
            )
        run_scripted(args)
        return
    if args.path is None:
        raise UserError(
            "evaluate needs a run folder, an actor file or an export folder, or --policy "
            "chaser|stand with --env TASK"
        )
    if is_submission(args.path):
        if args.noise or args.video is not None:
            raise UserError(
                "--noise and --video play run folders; a submission folder plays as the "
                "platform plays it (deterministic, no video): evaluate the run it came from"
            )
        tasks = args.env or read_manifest(args.path)["tasks"]
        if not tasks:
            raise UserError(f"{args.path} does not record its tasks; name them with --env")
        out = args.json or (args.save_dir or args.path) / "eval.json"
        check_writable_file(out, "--json")
        results = evaluate_submission(args.path, tasks, args.episodes, args.seed)
        print(format_table(results))
        write_json(results, out)
        print(f"results: {out}")
        return
    if args.video is not None:
        from soccer_td3.reports.video import gif_path, use_offscreen_gl

        use_offscreen_gl()  # before MuJoCo is imported
        check_writable_file(args.video, "--video")
        check_writable_file(gif_path(args.video), "--video")
    actor, meta = load_policy(args.path)
    tasks = args.env or meta.get("tasks") or []
    if not tasks:
        raise UserError(f"{args.path} does not record its tasks; name them with --env")
    obs_mode = meta.get("obs", "raw")
    control = ControlSpec.from_meta(meta)
    if control is not None and control.decimation > 1:
        if args.as_submitted:
            control = dataclasses.replace(control, decimation=1)
            print("actions: re-decided at every env step, as the platform plays a submission")
        else:
            print(
                f"actions: held {control.decimation} env steps, as trained "
                "(--as-submitted re-decides them at every env step, as the platform does)"
            )
    out = args.json or (args.save_dir or find_actor_file(args.path).parent.parent) / "eval.json"
    check_writable_file(out, "--json")
    results = [
        evaluate_task(actor, obs_mode, task, args.episodes, args.seed, args.noise, control)
        for task in tasks
    ]
    print(format_table(results))
    write_json(results, out)
    print(f"results: {out}")
    if args.video is not None:
        from soccer_td3.reports.video import gif_path, record_video

        act = lambda obs, _info: policy_action(actor, obs)  # noqa: E731
        frames = record_video(
            act, obs_mode, tasks, args.video, args.video_seconds, seed=args.seed, control=control
        )
        print(f"video: {args.video} and {gif_path(args.video)} ({frames} frames)")


def run_scripted(args: argparse.Namespace) -> None:
    """`evaluate --policy chaser|stand --env TASK`: a baseline, no run folder."""
    from soccer_td3.envs.build import make_task_env
    from soccer_td3.envs.registry import task_spec
    from soccer_td3.reports.evaluate import format_table, write_json
    from soccer_td3.reports.scripted import (
        OBS_MODE,
        scripted_control,
        scripted_path,
        scripted_policy,
    )
    from soccer_td3.training.evaluation import play_task

    if not args.env:
        raise UserError(f"--policy {args.policy} needs the task(s) to play: --env TASK_ID")
    if args.as_submitted:
        raise UserError("--as-submitted plays PD runs; a scripted policy has no submission")
    for task in args.env:
        task_spec(task)
    control = scripted_control(args.policy)
    out = args.json or (args.save_dir or Path(".")) / f"eval_{args.policy}.json"
    check_writable_file(out, "--json")
    if args.video is not None:
        from soccer_td3.reports.video import use_offscreen_gl

        use_offscreen_gl()
        check_writable_file(args.video, "--video")
    results = []
    for task in args.env:
        env = make_task_env(task, args.seed, OBS_MODE, control=control)
        act = scripted_policy(args.policy, control, args.noise, args.seed)
        path = scripted_path(args.policy)
        results.append(play_task(env, act, task, args.episodes, args.seed, args.noise, path))
    print(format_table(results))
    write_json(results, out)
    print(f"results: {out}")
    if args.video is not None:
        from soccer_td3.reports.video import gif_path, record_video

        act = scripted_policy(args.policy, control, 0.0, args.seed)
        frames = record_video(
            act, OBS_MODE, args.env, args.video, args.video_seconds, seed=args.seed,
            control=control,
        )  # fmt: skip
        print(f"video: {args.video} and {gif_path(args.video)} ({frames} frames)")


def check_writable_file(path: Path, flag: str) -> None:
    """Before the work: `path` is no folder, and its folder exists (or can be made) and takes
    a file (a probe write: root ignores permission bits)."""
    from soccer_td3.training.run_dir import writable_dir

    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file name")
    writable_dir(path.parent if str(path.parent) else Path("."), flag)


def compare_settings(args: argparse.Namespace) -> dict:
    """What every run of the comparison gets over its preset: compare's own defaults, then
    --config, --set and the flags; checked once here (with the first preset)."""
    settings = {"env": [DEFAULT_TASK], **COMPARE_DEFAULTS}
    if args.config is not None:
        settings |= load_yaml(args.config)
    settings |= settings_overrides(args)
    checked = config_from_args(args, **settings).flat(mode="json")
    settings = {key: checked[key] for key in settings}  # typed: the plan file compares equal
    if not settings.get("eval_freq"):
        settings["eval_freq"] = max(settings["timesteps"] // 20, 1)
    return settings


def run_compare(args: argparse.Namespace) -> None:
    from soccer_td3.cores import available_cores, core_slots

    jobs = len(available_cores()) if args.jobs is None else args.jobs
    core_slots(jobs)  # refuses --jobs 0 or more jobs than cores, before anything is written
    settings = compare_settings(args)  # and a bad setting, before torch loads

    from soccer_td3.reports.compare import (
        ComparePlan,
        ComparisonInterrupted,
        record_plan,
        run_comparison,
        validate,
    )
    from soccer_td3.reports.report import write_report
    from soccer_td3.reports.runs import find_runs

    plan = ComparePlan(list(dict.fromkeys(args.presets)), args.seeds, settings)
    validate(plan)
    record_plan(plan, args.save_dir)
    try:
        failed = run_comparison(plan, args.save_dir, jobs)
    except ComparisonInterrupted:
        print(
            f"interrupted; run the same command again to resume the comparison in {args.save_dir}"
        )
        return
    runs = [r for r in find_runs([args.save_dir]) if r.curve]
    if not runs:
        raise UserError(
            f"no run in {args.save_dir} has an evaluation yet; see {args.save_dir / 'logs'}"
        )
    report = write_report(runs, args.save_dir, args.threshold)
    print(f"report: {report}  (curves: {args.save_dir / 'curves.png'})")
    if failed:
        names = ", ".join(run.name for run in failed)
        raise UserError(
            f"{names} did not finish; the report holds the rest. See {args.save_dir}/logs"
        )


def run_report(args: argparse.Namespace) -> None:
    from soccer_td3.reports.report import write_report
    from soccer_td3.reports.runs import find_runs

    runs = [r for r in find_runs(args.paths) if r.curve]
    if not runs:
        raise UserError(
            "none of these runs has an evaluation (eval/* rows in progress.csv); train with "
            "--eval-freq to report on them"
        )
    out = args.save_dir
    if out is None:
        single = len(args.paths) == 1 and not (args.paths[0] / "config.yaml").is_file()
        out = args.paths[0] if single else Path("report")
    print(f"report: {write_report(runs, out, args.threshold)}")


def run_envs(_args: argparse.Namespace) -> None:
    from soccer_td3.envs.registry import TASKS

    print(f"{'task id':32} {'obs':>4} {'action':>6} {'max steps':>9}  robot")
    for spec in TASKS.values():
        print(
            f"{spec.task_id:32} {spec.obs_dim:>4} {spec.act_dim:>6} "
            f"{spec.max_episode_steps:>9}  {spec.robot}"
        )


def run_export(args: argparse.Namespace) -> None:
    from soccer_td3.export import export

    print(f"exported: {export(args.path, args.save_dir, args.format)}")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        args.handler(args)
        code = 0
    except UserError as exc:
        print(f"soccer-td3: error: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        # Ctrl-C outside training's own handler (start-up, evaluate, export, report): every
        # file is written whole or not at all (files.py), so nothing is left half-done.
        print("soccer-td3: interrupted (Ctrl-C); no file was left half-written", file=sys.stderr)
        code = 130
    if argv is None:
        # The command is done and has said so: a Ctrl-C now could only interrupt Python's own
        # shutdown (its finalizers), with a traceback and nothing to gain.
        # A Ctrl-C that arrived just before is delivered by signal.signal itself (it checks
        # for pending signals): the work is done all the same.
        with contextlib.suppress(KeyboardInterrupt):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


if __name__ == "__main__":
    sys.exit(main())
