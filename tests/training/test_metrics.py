import csv
from pathlib import Path

from soccer_td3.training.metrics import MetricsLogger


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
