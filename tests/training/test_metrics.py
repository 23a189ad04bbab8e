import csv
from pathlib import Path

import pytest

from soccer_td3.errors import UserError
from soccer_td3.training.metrics import CsvSink, MetricsLogger, read_log
from tests.conftest import fill


def test_csv_grows_columns_when_keys_first_appear(tmp_path: Path):
    logger = MetricsLogger(tmp_path)
    logger.record(100, {"time/fps": 10.0})
    logger.record(200, {"time/fps": 11.0, "train/critic_loss": 0.5})
    logger.close()
    with (tmp_path / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {"time/total_timesteps": "100", "time/fps": "10.0", "train/critic_loss": ""},
        {"time/total_timesteps": "200", "time/fps": "11.0", "train/critic_loss": "0.5"},
    ]
    assert any((tmp_path / "tb").iterdir())


def test_a_cut_short_last_row_is_dropped_with_a_note_on_resume(tmp_path: Path):
    progress = tmp_path / "progress.csv"
    progress.write_text("time/total_timesteps,time/fps\n100,10.0\n200,11.0\n300,1")
    logger = MetricsLogger(tmp_path, resume_step=200)
    logger.close()
    assert logger.notes == ["progress.csv: its last row was cut short; dropped it"]
    assert progress.read_text().splitlines() == [
        "time/total_timesteps,time/fps",
        "100,10.0",
        "200,11.0",
    ]


@pytest.mark.parametrize(
    "text, words",
    [
        ("time/total_timesteps,x\n100,1\n\x00garbage\n300,1\n", "damaged at line 3"),
        ("time/total_timesteps,x\n300,1\n200,1\n250,1\n", "damaged at line 3"),
        ("step,x\n100,1\n", "is not a soccer-td3 log"),
    ],
)
def test_a_damaged_log_is_one_error_naming_the_file(tmp_path: Path, text, words):
    (tmp_path / "progress.csv").write_text(text)
    with pytest.raises(UserError, match=words) as error:
        read_log(tmp_path / "progress.csv", increasing=True)
    assert "move progress.csv aside" in str(error.value)


def test_a_binary_log_is_refused(tmp_path: Path):
    (tmp_path / "progress.csv").write_bytes(bytes(range(256)))
    with pytest.raises(UserError, match="not a text file"):
        MetricsLogger(tmp_path, resume_step=0)


def test_a_full_disk_keeps_every_earlier_row(small_disk):
    disk = small_disk(64)
    sink = CsvSink(disk / "episodes.csv")
    for step in range(1, 6):
        sink.write({"time/total_timesteps": step, "env": 0, "r": 1.5})
    before = (disk / "episodes.csv").read_text()
    fill(disk, 0)
    with pytest.raises(UserError, match=r"episodes\.csv"):
        for step in range(6, 10_000):
            sink.write({"time/total_timesteps": step, "env": 0, "r": 1.5 * step})
    text = (disk / "episodes.csv").read_text()
    assert text.startswith(before)
    _, rows, note = read_log(disk / "episodes.csv", increasing=True)
    assert note is None and len(rows) >= 5  # whole rows only
