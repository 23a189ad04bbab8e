"""The CLI as a user meets it: real subprocesses, real exit codes, real stderr."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import assert_one_line_error, in_a_process, soccer_td3
from tests.conftest import tiny

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--env", "LowerT1Goalie-v0"], ["unknown env id", "LowerT1GoaliePenaltyKick-v0"]),
        (["--set", "learning_rate"], ["not key=value", "--set learning_rate="]),
        (["--set", "lr=1e-3"], ["unknown setting 'lr'", "learning_rate"]),
        (["--actor-net", "512,x,64"], ["actor_net", "512,256,128,64"]),
        (["--set", "critic_net=0,64"], ["critic_net", "positive"]),
        (["--learning_rate", "-0.001"], ["learning_rate", "greater than 0"]),
        (["--batch-size", "0"], ["batch_size", "greater than 0"]),
        (["--tau", "2"], ["tau", "less than or equal to 1"]),
        (["--preset", "huge"], ["invalid choice", "--help"]),
        (["--no-such-flag"], ["unrecognized arguments", "--help"]),
        (["--net", "256,0"], ["actor_net", "positive"]),
        (["--shaping", "strong"], ["shaping", "none, default"]),
        (
            [
                "--env",
                "LowerT1GoaliePenaltyKick-v0",
                "--second_env",
                "LowerT1KickToTarget-v0",
                "--obs",
                "raw",
            ],
            ["obs raw takes one task", "obs features"],
        ),
        (
            ["--env", "LowerT1GoaliePenaltyKick-v0", "--second-env", "T1KickToTarget-v0"],
            ["different action sizes"],
        ),
        (["--env", "T1KickToTarget-v0", "--obs", "features"], ["no layout for T1KickToTarget-v0"]),
        (["--control", "walk"], ["control", "'command'"]),
        (["--preset", "soccer", "--prior", "keeper"], ["prior", "'none' or 'chaser'"]),
        (["--preset", "soccer", "--command-high", "1.5,0.5,1"], ["trained range", "-1..1"]),
        (["--preset", "soccer", "--set", "command_low=[-2,0,0]"], ["trained range"]),
        (["--preset", "soccer", "--decimation", "15"], ["multiple of 10"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args, words):
    result = soccer_td3("train", "--save_dir", str(tmp_path / "run"), *args)
    assert_one_line_error(result, *words)
    assert not (tmp_path / "run").exists()  # nothing created for a run that never starts


@pytest.mark.parametrize(
    "args, words",
    [
        (["--policy", "chaser"], ["needs the task", "--env"]),
        (["runs/x", "--policy", "chaser", "--env", "LowerT1PenaltyKick-v0"], ["not both"]),
        (["--policy", "dribbler", "--env", "LowerT1KickToTarget-v0"], ["invalid choice", "chaser"]),
        (["--policy", "stand", "--env", "LowerT1Goalie-v0"], ["unknown env id"]),
        (["--policy", "stand", "--env", "LowerT1KickToTarget-v0", "--noise", "nan"], [">= 0"]),
        ([], ["needs a run folder", "--policy"]),
    ],
)
def test_bad_evaluate_input_is_one_line_and_exit_2(tmp_path: Path, args, words):
    result = soccer_td3("evaluate", *args, "--save-dir", str(tmp_path / "out"))
    assert_one_line_error(result, *words)
    assert not (tmp_path / "out").exists()


def test_evaluate_plays_the_scripted_chaser_without_a_run_folder(tmp_path: Path):
    result = soccer_td3(
        "evaluate", "--policy", "chaser", "--env", "LowerT1GoaliePenaltyKick-v0",
        "--episodes", "1", "--save-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "scripted chaser" in result.stdout
    (row,) = json.loads((tmp_path / "eval_chaser.json").read_text())
    assert row["success_rate"] == 1.0 and row["score_mean"] > 2.0 and row["fall_rate"] == 0.0


def test_unwritable_save_dir_is_one_line_and_exit_2(tmp_path: Path):
    (tmp_path / "a_file").write_text("keep me")
    result = soccer_td3(
        "train", "--timesteps", "10", "--save_dir", str(tmp_path / "a_file" / "run")
    )
    assert_one_line_error(result, "cannot write", "--save_dir")
    assert (tmp_path / "a_file").read_text() == "keep me"


def test_seed_flags_in_both_spellings_train_and_never_overwrite(tmp_path: Path):
    common = [
        "--env",
        "LowerT1KickToTarget-v0",
        "--timesteps",
        "60",
        "--device",
        "cpu",
        "--learning-starts",
        "30",
        "--batch_size",
        "16",
        "--set",
        "actor_net=32",
        "--critic-net",
        "32",
    ]
    first = soccer_td3("train", *common, "--save_dir", str(tmp_path / "exp"))
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "exp" / "final" / "actor.safetensors").is_file()
    config = (tmp_path / "exp" / "config.yaml").read_text()
    assert "LowerT1KickToTarget-v0" in config and "batch_size: 16" in config
    second = soccer_td3("train", *common, "--save-dir", str(tmp_path / "exp"))
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "exp_1" / "final" / "actor.safetensors").is_file()
    assert str(tmp_path / "exp_1") in second.stdout


def test_seed_script_is_a_shim_over_the_same_cli():
    result = subprocess.run(
        [sys.executable, str(REPO / "training_scripts" / "train_td3_rl.py"), "--env", "Nope-v0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_line_error(result, "unknown env id")


def test_envs_lists_tasks_with_sizes():
    result = soccer_td3("envs")
    assert result.returncode == 0
    line = next(
        row for row in result.stdout.splitlines() if row.startswith("LowerT1GoaliePenaltyKick-v0")
    )
    assert line.split()[1:3] == ["45", "12"]


def test_net_and_second_env_build_the_config(tmp_path: Path):
    from soccer_td3.cli import build_parser
    from soccer_td3.flags import config_from_args

    args = build_parser().parse_args(
        [
            "train",
            "--env",
            "LowerT1GoaliePenaltyKick-v0",
            "--second_env",
            "LowerT1KickToTarget-v0",
            "--net",
            "64,32",
            "--critic-net",
            "128",
        ]
    )
    config = config_from_args(args)
    assert config.environment.env == ["LowerT1GoaliePenaltyKick-v0", "LowerT1KickToTarget-v0"]
    assert config.environment.observation_mode == "features"
    assert (config.networks.actor_net, config.networks.critic_net) == ([64, 32], [128])


def test_bad_init_from_is_one_line_exit_2_and_writes_nothing(tmp_path: Path):
    import io
    import zipfile

    import torch

    from soccer_td3.training.loop import train

    junk = tmp_path / "model.zip"
    with zipfile.ZipFile(junk, "w") as archive:
        archive.writestr("data", "{}")
    sac_like = tmp_path / "sac.zip"
    buffer = io.BytesIO()
    torch.save({"actor.latent_pi.0.weight": torch.zeros(4, 4)}, buffer)
    with zipfile.ZipFile(sac_like, "w") as archive:
        archive.writestr("policy.pth", buffer.getvalue())
    ours = tmp_path / "ours"
    train(
        tiny(timesteps=10, learning_starts=10, log_interval=10, actor_net=[32], critic_net=[32]),
        ours,
    )
    for source, words in (
        (tmp_path / "missing.safetensors", ["does not exist"]),
        (junk, ["without policy.pth"]),
        (sac_like, ["no TD3 actor"]),
        (ours, ["shape [32, 45]", "needs [64, 45]"]),
    ):
        result = soccer_td3(
            "train",
            "--init-from",
            str(source),
            "--save_dir",
            str(tmp_path / "run"),
            "--timesteps",
            "10",
            "--net",
            "64",
        )
        assert_one_line_error(result, *words)
        assert not (tmp_path / "run").exists()


def checksums(folder: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


TINY_RUN = [
    "--timesteps", "300", "--learning-starts", "100", "--batch-size", "32", "--net", "64,64",
    "--log-interval", "100", "--checkpoint-freq", "300", "--device", "cpu",
]  # fmt: skip


def test_a_refused_resume_changes_nothing_and_a_finished_run_says_how_to_extend(tmp_path):
    run = tmp_path / "run"
    assert soccer_td3("train", *TINY_RUN, "--save-dir", str(run)).returncode == 0
    before = checksums(run)
    for extra in (["--timesteps", "200"], []):  # fewer steps; then the run's own, reached
        result = soccer_td3("train", "--resume", str(run), *extra)
        assert_one_line_error(result, "is complete to step 300", "--timesteps 600")
        assert checksums(run) == before
    result = soccer_td3("train", "--resume", str(run), "--timesteps", "400")
    assert result.returncode == 0, result.stderr
    assert "timesteps: 400" in (run / "config.yaml").read_text()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_errors_before_the_first_step_leave_no_folder(tmp_path):
    for args, words in (
        (["--device", "cuda"], "no CUDA GPU is visible"),
        (["--net", "1000000000"], "GB available"),
    ):
        run = tmp_path / "run"
        assert_one_line_error(soccer_td3("train", *args, "--save-dir", str(run)), words)
        assert not run.exists()
    # And the next try gets the folder it asked for, not run_1.
    assert soccer_td3("train", *TINY_RUN, "--save-dir", str(tmp_path / "run")).returncode == 0
    assert not (tmp_path / "run_1").exists()


def test_a_raw_pickle_in_an_sb3_zip_is_one_line_without_torch_warnings(tmp_path):
    import pickle
    import zipfile

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("policy.pth", pickle.dumps({"actor.mu.0.weight": object()}, protocol=4))
    # A process of its own: a warning torch prints once per interpreter would not show here.
    result = in_a_process("train", "--init-from", str(evil), "--save-dir", str(tmp_path / "r"))
    assert_one_line_error(result, "policy.pth is not a plain state_dict")
    assert "Detected pickle protocol" not in result.stderr and "Warning" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_export_never_overwrites_an_export(two_task_run, tmp_path):
    out = tmp_path / "submission"
    assert soccer_td3("export", str(two_task_run), "--save-dir", str(out)).returncode == 0
    before = checksums(out)
    again = soccer_td3("export", str(two_task_run), "--save-dir", str(out))
    assert again.returncode == 0, again.stderr
    assert f"writing this one to {out}_1" in again.stdout
    assert checksums(out) == before
    assert (tmp_path / "submission_1" / "actor.pt").is_file()


def test_undoing_a_run_that_never_trained_keeps_what_was_there(tmp_path):
    from soccer_td3.cli import trained_any_step
    from soccer_td3.training.run_dir import remove_what_we_wrote

    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("the user's")
    found = set(run.iterdir())
    (run / "config.yaml").write_text("timesteps: 1\n")
    (run / "tb").mkdir()
    (run / "progress.csv").write_text("time/total_timesteps\n")  # a header, no row
    assert not trained_any_step(run)
    remove_what_we_wrote(run, found)
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    (run / "notes.txt").unlink()
    remove_what_we_wrote(run, set())
    assert not run.exists()


def test_a_balanced_pd_run_records_its_feedback_and_evaluates_held_or_as_submitted(tmp_path):
    run = tmp_path / "pd"
    result = soccer_td3(
        "train", "--control", "pd", "--decimation", "10", "--pd-balance", "2,0.05",
        "--obs", "features", "--timesteps", "300", "--learning-starts", "300",
        "--net", "32", "--batch-size", "16", "--device", "cpu", "--save-dir", str(run),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    from safetensors import safe_open

    with safe_open(str(run / "final" / "actor.safetensors"), "pt") as weights:
        control = json.loads(weights.metadata()["control"])
    assert control["balance"] == [2.0, 0.05]
    results = {}
    for mode in ("held", "as-submitted"):
        flags = ["--as-submitted"] if mode == "as-submitted" else []
        out = tmp_path / f"{mode}.json"
        result = soccer_td3("evaluate", str(run), "--episodes", "1", "--json", str(out), *flags)
        assert result.returncode == 0, result.stderr
        assert ("re-decided at every env step" in result.stdout) == (mode == "as-submitted")
        results[mode] = json.loads(out.read_text())
    # Held and re-decided actions are different games: the episodes differ.
    assert results["held"] != results["as-submitted"]


def test_help_and_a_bad_setting_answer_before_torch_loads():
    """Importing torch takes 2 s here: --help and a refused setting must not wait for it."""
    code = (
        "import sys\n"
        "from soccer_td3.cli import main\n"
        "codes = [main(['train', '--learning-rate', '-1']), main(['compare', '--gamma', '2']),\n"
        "         main(['tune', '--set', 'lr=1']), main(['train', '--preset', 'soccer',\n"
        "         '--decimation', '15'])]\n"
        "print(codes, 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split("] ")[-1].strip() == "False", result.stdout + result.stderr
    assert result.stdout.startswith("[2, 2, 2, 2]")
    assert "multiple of 10" in result.stderr
    help_only = "import sys\nfrom soccer_td3.cli import build_parser\n"
    help_only += "build_parser().format_help()\nprint('torch' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", help_only], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stdout + result.stderr
