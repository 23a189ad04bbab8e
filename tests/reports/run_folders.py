"""Run folders written the way `train` writes them, with chosen eval curves: report tests
need curves with known numbers, which a few hundred real steps cannot give."""

import csv
from pathlib import Path

from soccer_td3.config import build_config


def write_run(
    folder: Path,
    returns: list[float],
    preset: str = "balanced",
    seed: int = 0,
    every: int = 1000,
    finished: bool = True,
    **settings,
) -> Path:
    config = build_config(
        preset,
        overrides={"seed": seed, "eval_freq": every, "learning_starts": every, **settings},
    )
    folder.mkdir(parents=True)
    config.to_yaml(folder / "config.yaml")
    with (folder / "progress.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            ["time/total_timesteps", "time/time_elapsed", "eval/mean_reward", "eval/mean_score"],
        )
        writer.writeheader()
        for i, value in enumerate(returns, start=1):
            writer.writerow(
                {
                    "time/total_timesteps": i * every,
                    "time/time_elapsed": i * 10.0,
                    "eval/mean_reward": value,
                    "eval/mean_score": value / 100,
                }
            )
    if finished:
        (folder / "final").mkdir()
    return folder
