"""compare and report through the CLI, as a user runs them: real runs, real files."""

import csv
import fcntl
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.cli_helpers import assert_one_line_error, soccer_td3

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = [
    "--timesteps",
    "300",
    "--eval-freq",
    "100",
    "--eval-episodes",
    "1",
    "--set",
    "learning_starts=100",
    "--set",
    "log_interval=100",
]


def table_rows(report: Path) -> list[list[str]]:
    """The cells of the first table's data rows."""
    lines = report.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| variant"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def numbers(cell: str) -> list[float]:
    return [float(x.replace(",", "")) for x in re.findall(r"-?[\d,]*\.?\d+(?:e[-+]?\d+)?", cell)]


def colour_pixels(png: Path, hex_colour: str) -> int:
    import matplotlib.image

    image = matplotlib.image.imread(png)[..., :3]
    target = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image - target).max(axis=-1) < 0.02).sum())


PRESETS, SEEDS = ("baseline", "balanced"), (0, 1)
# TINY in train's own spellings (`--preset`, `--learning-starts`, `--device`; `--save_dir` for
# --out below): compare takes every train flag.
COMPARE = [
    "compare", "--preset", *PRESETS, "--seeds", "2", "--jobs", "2", "--timesteps", "300",
    "--eval-freq", "100", "--eval-episodes", "1", "--learning-starts", "100",
    "--log-interval", "100", "--device", "cpu", "--checkpoint-freq", "100",
]  # fmt: skip


@dataclass
class Stopped:
    """What the interrupted command left and said, and what the command run again said (plain
    values, so the record passes between pytest-xdist workers as JSON)."""

    output: str
    finished: dict[str, float]  # run folder -> its final actor's mtime
    unfinished: list[str]
    report: bool  # whether report.md existed after the stop
    resumed: str = ""  # the second command's stderr


def stop_then_finish(out: Path) -> Stopped:
    """A tiny comparison (two presets, two seeds, two runs at a time) stopped with SIGTERM once
    two runs have finished and a later one has logged only its first row, as a scheduler would
    stop it (the signal to the compare process alone, which passes it on to its runs), then
    the same command again. The tests read the finished comparison and what both said."""
    runs = [out / preset / f"seed{seed}" for preset in PRESETS for seed in SEEDS]
    process = subprocess.Popen(
        [sys.executable, "-m", "soccer_td3", *COMPARE, "--save_dir", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )

    def finished() -> list[Path]:
        return [run for run in runs if (run / "final").is_dir()]

    def training() -> list[Path]:
        return [r for r in runs if (r / "progress.csv").is_file() and not (r / "final").exists()]

    def early(run: Path) -> bool:  # its first row only: 200 steps and two evaluations to go
        with (run / "progress.csv").open() as handle:
            return [row["time/total_timesteps"] for row in csv.DictReader(handle)] == ["100"]

    deadline = time.monotonic() + 240
    while not (len(finished()) >= 2 and any(early(run) for run in training())):
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    stopped = Stopped(
        output,
        {str(run): (run / "final" / "actor.safetensors").stat().st_mtime for run in finished()},
        [str(run) for run in training()],
        (out / "report.md").exists(),
    )
    result = soccer_td3(*COMPARE, "--save_dir", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "report:" in result.stdout
    stopped.resumed = result.stderr
    return stopped


@pytest.fixture(scope="module")
def stopped_then_finished(tmp_path_factory, worker_id) -> tuple[Path, Stopped]:
    """stop_then_finish, once per test session: both pytest-xdist workers may run tests of
    this module, and the second waits on a lock for the first's comparison (35 s) instead of
    making its own."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent  # the session's, not a worker's
    record, out = shared / "comparison.json", shared / "comparison"
    with (shared / "comparison.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.is_file():
            record.write_text(json.dumps(asdict(stop_then_finish(out))))
    return out, Stopped(**json.loads(record.read_text()))


@pytest.fixture(scope="module")
def comparison(stopped_then_finished) -> Path:
    return stopped_then_finished[0]


def test_tiny_comparison_reports_two_variants_with_finite_numbers(comparison: Path):
    rows = table_rows(comparison / "report.md")
    assert [row[0] for row in rows] == ["baseline", "balanced"]
    for row in rows:
        assert int(row[3]) == 2  # seeds
        for cell in row[2:8]:  # parameters, seeds, steps/s, return, score, steps to threshold
            values = numbers(cell)
            assert values and all(math.isfinite(v) for v in values), (row[0], cell)
    baseline, balanced = rows
    assert numbers(balanced[2])[0] > numbers(baseline[2])[0]  # the deep nets hold more weights
    for seed in SEEDS:
        for preset in PRESETS:
            run = comparison / preset / f"seed{seed}"
            assert (run / "final" / "actor.safetensors").is_file()
            config = (run / "config.yaml").read_text()  # the train flags reached each run
            assert "learning_starts: 100" in config and "device: cpu" in config
    assert "Part D" in (comparison / "report.md").read_text()


def test_curves_png_is_a_valid_png_with_two_curves(comparison: Path):
    png = comparison / "curves.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    assert (comparison / "curves.svg").read_text().lstrip().startswith("<?xml")
    # matplotlib's first two colours: one per variant, in both panels. A legend entry alone
    # is ~200 pixels; a curve across both panels is thousands.
    assert colour_pixels(png, "#1f77b4") > 1000
    assert colour_pixels(png, "#ff7f0e") > 1000


def test_max_minutes_compares_at_equal_wall_clock_time(tmp_path):
    out = tmp_path / "cmp"
    result = soccer_td3(
        "compare", "--presets", "baseline", "balanced", "--seeds", "1", "--jobs", "2",
        "--out", str(out), "--timesteps", "1000000", "--max-minutes", "0.05",
        "--eval-freq", "500000", "--eval-episodes", "1", "--set", "learning_starts=100",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for preset in ("baseline", "balanced"):
        run = out / preset / "seed0"
        with (run / "progress.csv").open() as handle:
            last = list(csv.DictReader(handle))[-1]
        assert int(last["time/total_timesteps"]) < 1_000_000
        assert 3.0 <= float(last["time/time_elapsed"]) < 60.0
        assert last["eval/mean_score"]  # each run ends on its own evaluation
        assert (run / "final" / "actor.safetensors").is_file()
    assert "stopped after 0.05 wall-clock minutes" in (out / "report.md").read_text()


def test_progress_counts_steps_or_the_time_budget_whichever_is_further(tmp_path):
    from soccer_td3.reports.compare import PlannedRun

    run = PlannedRun("balanced", 0, tmp_path / "run")
    assert run.fraction_done(1000, None) == 0.0  # no row yet
    run.folder.mkdir()
    (run.folder / "progress.csv").write_text(
        "time/total_timesteps,time/time_elapsed\n100,6.0\n500,45.0\n"
    )
    assert run.fraction_done(1000, None) == 0.5
    assert run.fraction_done(1000, 1.0) == 0.75  # 45 s of a 60 s budget
    assert run.fraction_done(1000, 10.0) == 0.5  # the steps are further than the time
    (run.folder / "final").mkdir()
    assert run.fraction_done(1000, 10.0) == 1.0


def test_report_rebuilds_from_the_run_folders_without_training(comparison: Path, tmp_path):
    before = {p: p.stat().st_mtime for p in comparison.rglob("actor.safetensors")}
    result = soccer_td3("report", str(comparison), "--out", str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr
    assert [r[0] for r in table_rows(tmp_path / "again" / "report.md")] == ["baseline", "balanced"]
    assert (tmp_path / "again" / "curves.png").read_bytes()[:8] == PNG_SIGNATURE
    assert {p: p.stat().st_mtime for p in comparison.rglob("actor.safetensors")} == before


def test_an_interrupted_comparison_resumes_the_missing_runs_and_rebuilds_the_report(
    stopped_then_finished,
):
    out, stopped = stopped_then_finished
    assert "run the same command again" in stopped.output
    assert "stopping: each running run writes a checkpoint" in stopped.output
    assert not stopped.report  # no report of an unfinished comparison
    assert stopped.unfinished
    for run in map(Path, stopped.unfinished):  # stopped mid-training: a checkpoint, no final
        assert (run / "checkpoints" / "latest").is_file()
    assert f"{len(stopped.finished)} of 4 runs already finished" in stopped.resumed
    for run in map(Path, stopped.unfinished):
        preset, seed = run.parent.name, run.name.removeprefix("seed")
        assert f"resuming {preset} seed {seed}" in stopped.resumed
        assert "resumed" in (out / "logs" / f"{preset}_seed{seed}.log").read_text()
    for run, mtime in stopped.finished.items():  # a finished run is kept, not trained again
        assert (Path(run) / "final" / "actor.safetensors").stat().st_mtime == mtime
    assert [r[0] for r in table_rows(out / "report.md")] == list(PRESETS)


def test_resuming_with_other_settings_is_refused(comparison: Path):
    result = soccer_td3("compare", "--presets", "baseline", "--out", str(comparison), *TINY)
    assert_one_line_error(result, "other settings", "--save-dir")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--presets", "huge"], ["invalid choice"]),
        (["--seeds", "0"], ["--seeds 0"]),
        (["--set", "lr=1"], ["unknown setting 'lr'"]),
        (["--env", "Nope-v0"], ["unknown env id"]),
        (["--jobs", "0"], ["--jobs 0", "at least 1"]),
        (["--jobs", "999"], ["--jobs 999", "cores"]),
    ],
)
def test_bad_compare_input_is_one_line_exit_2_before_any_run(tmp_path, args, words):
    result = soccer_td3("compare", "--out", str(tmp_path / "cmp"), *TINY, *args)
    assert_one_line_error(result, *words)
    assert not (tmp_path / "cmp").exists()


def test_report_of_a_folder_without_runs_is_one_line(tmp_path):
    assert_one_line_error(soccer_td3("report", str(tmp_path)), "no run folders")


def test_unwritable_out_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = soccer_td3("compare", "--out", str(blocker / "cmp"), *TINY)
    assert_one_line_error(result, "cannot write", "--save-dir")
