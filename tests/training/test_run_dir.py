from pathlib import Path

import pytest

from soccer_td3.errors import UserError
from soccer_td3.training.run_dir import new_run_dir


def test_an_existing_run_is_never_overwritten(tmp_path: Path):
    first = new_run_dir(tmp_path / "exp")
    assert first == tmp_path / "exp"
    (first / "config.yaml").write_text("seed: 0\n")
    second = new_run_dir(tmp_path / "exp")
    assert second == tmp_path / "exp_1"
    (second / "progress.csv").write_text("x\n")
    assert new_run_dir(tmp_path / "exp") == tmp_path / "exp_2"
    assert (first / "config.yaml").read_text() == "seed: 0\n"


def test_unwritable_location_is_a_user_error(tmp_path: Path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="cannot write the folder"):
        new_run_dir(tmp_path / "file" / "run")
