"""Run folders: never overwritten, never shared by two processes (a real flock)."""

import subprocess
import sys
from pathlib import Path

import pytest

from soccer_td3.errors import UserError
from soccer_td3.training.run_dir import LOCK_FILE, claim, new_run_dir, try_claim


def test_an_existing_run_is_never_overwritten(tmp_path: Path):
    first, _ = new_run_dir(tmp_path / "exp")
    assert first == tmp_path / "exp"
    (first / "config.yaml").write_text("seed: 0\n")
    second, _ = new_run_dir(tmp_path / "exp")
    assert second == tmp_path / "exp_1"
    (second / "progress.csv").write_text("x\n")
    assert new_run_dir(tmp_path / "exp")[0] == tmp_path / "exp_2"
    assert (first / "config.yaml").read_text() == "seed: 0\n"


def test_a_folder_claimed_but_still_empty_is_not_taken_twice(tmp_path: Path):
    """The race of issue 29: the first process has claimed the folder, not yet written in it."""
    first, held = new_run_dir(tmp_path / "exp")
    assert not any(p.name != LOCK_FILE for p in first.iterdir())
    second, _ = new_run_dir(tmp_path / "exp")
    assert (first, second) == (tmp_path / "exp", tmp_path / "exp_1")
    held.release()
    assert new_run_dir(tmp_path / "exp")[0] == tmp_path / "exp"  # free again, still empty


def test_a_claim_held_by_another_process_is_refused_with_its_pid(tmp_path: Path):
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import sys, time; from pathlib import Path; "
            "from soccer_td3.training.run_dir import try_claim; "
            f"c = try_claim(Path({str(tmp_path)!r})); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            UserError, match=f"in use by another soccer-td3 process \\(pid {holder.pid}\\)"
        ):
            claim(tmp_path, "training this run", "--resume")
    finally:
        holder.kill()
        holder.wait()
    assert try_claim(tmp_path) is not None  # the kernel dropped the dead holder's lock


def test_unwritable_location_is_a_user_error(tmp_path: Path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="cannot write the folder"):
        new_run_dir(tmp_path / "file" / "run")
