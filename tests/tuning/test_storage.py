from pathlib import Path

import optuna
import pytest

from soccer_td3.errors import UserError
from soccer_td3.tuning.storage import open_storage, open_study, shown_url

SETTINGS = {"env": ["LowerT1GoaliePenaltyKick-v0"], "timesteps_per_trial": 200}


def _refused_port() -> int:
    import socket

    with socket.socket() as probe:  # bound but not listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "url, words",
    [
        ("not a url", ["is not a database URL", "postgresql://user:password@host"]),
        ("redis://localhost:6379", ["unsupported database 'redis'", "sqlite or postgresql"]),
        ("sqlite:////no/such/dir/study.db", ["cannot open the study storage", "unable to open"]),
    ],
)
def test_a_bad_storage_url_is_one_line_naming_the_fix(url: str, words: list):
    with pytest.raises(UserError) as caught:
        open_storage(url, heartbeat_interval=60, grace_period=180)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_an_unreachable_postgresql_server_is_one_line_without_the_password():
    url = f"postgresql://tuner:s3cret@127.0.0.1:{_refused_port()}/study"
    with pytest.raises(UserError) as caught:
        open_storage(url, heartbeat_interval=60, grace_period=180)
    message = str(caught.value)
    assert "\n" not in message and "s3cret" not in message
    assert "cannot open the study storage postgresql+psycopg2://tuner:***@127.0.0.1" in message
    assert "refused" in message, message


def test_a_grace_period_within_the_heartbeat_interval_is_refused(tmp_path: Path):
    with pytest.raises(UserError, match="must exceed --heartbeat-interval"):
        open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=5, grace_period=5)


def test_a_worker_with_other_settings_cannot_join_the_study(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = open_storage(url, heartbeat_interval=1, grace_period=3)
    pruner, sampler = optuna.pruners.NopPruner(), optuna.samplers.RandomSampler()
    study = open_study(storage, "s", sampler, pruner, SETTINGS)
    assert study.user_attrs == SETTINGS
    assert open_study(storage, "s", sampler, pruner, SETTINGS).user_attrs == SETTINGS  # joins
    with pytest.raises(UserError) as caught:
        open_study(storage, "s", sampler, pruner, SETTINGS | {"timesteps_per_trial": 300})
    assert "started with timesteps_per_trial=200, not 300" in str(caught.value)
    assert "--study-name" in str(caught.value)


def test_shown_urls_hide_the_password():
    assert shown_url("postgresql://u:pw@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert shown_url("sqlite:///runs/tune/study.db") == "sqlite:///runs/tune/study.db"
