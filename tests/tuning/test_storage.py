from pathlib import Path

import optuna
import pytest

from soccer_td3.errors import UserError
from soccer_td3.tuning.storage import lock_errors_in_words, open_storage, open_study, shown_url

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


@pytest.mark.parametrize(
    "url, words",
    [
        # A bare mysql:// URL means the mysqlclient driver, not pymysql.
        ("mysql://tuner:pw@127.0.0.1/study", ["driver mysqldb", "mysqlclient", "mysql+pymysql://"]),
        ("mysql+pymysql://tuner:pw@127.0.0.1/study", ["driver pymysql", "pip install pymysql"]),
        # psycopg 3 is a package of its own, not psycopg2-binary.
        ("postgresql+psycopg://tuner:pw@127.0.0.1/study", ["pip install 'psycopg[binary]'"]),
    ],
)
def test_a_missing_driver_names_the_package_of_that_driver(url: str, words: list):
    import importlib.util

    module = {"mysqldb": "MySQLdb", "pymysql": "pymysql", "psycopg": "psycopg"}
    driver = url.split("://")[0].partition("+")[2] or "mysqldb"
    if importlib.util.find_spec(module[driver]) is not None:
        pytest.skip(f"{module[driver]} is installed here")
    with pytest.raises(UserError) as caught:
        open_storage(url, heartbeat_interval=60, grace_period=180)
    message = str(caught.value)
    assert "\n" not in message and "pw@" not in message
    for word in words:
        assert word in message, message


def test_a_postgresql_15_user_without_create_on_public_is_told_the_grant(postgres_url):
    """PostgreSQL 15 took CREATE on schema public away from ordinary users: a real server, a
    real role without it."""
    import psycopg2

    server, _, database = postgres_url.rpartition("/")
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        if int(cursor.fetchone()[0]) < 150000:
            pytest.skip("the server is older than PostgreSQL 15")
        cursor.execute("CREATE ROLE tuner LOGIN")
    admin.close()
    url = server.replace("postgres@", "tuner@") + "/" + database
    with pytest.raises(UserError) as caught:
        open_storage(url, heartbeat_interval=60, grace_period=180)
    message = str(caught.value)
    assert "\n" not in message
    assert "GRANT CREATE ON SCHEMA public TO tuner" in message, message


def _claim(url: str, trial_id: int, barrier, results) -> None:
    from optuna.trial import TrialState

    storage = open_storage(url, heartbeat_interval=60, grace_period=180)
    barrier.wait()
    try:
        results.put(storage.set_trial_state_values(trial_id, TrialState.RUNNING))
    except Exception as exc:  # a non-atomic claim shows up as a double win or a lock error
        results.put(repr(exc))


def test_sqlite_claims_of_a_waiting_trial_are_atomic_across_processes(tmp_path: Path):
    """Optuna claims a WAITING trial by reading its state and then writing RUNNING. Eight
    processes claim the same trial at once, eight times over: exactly one wins each time.
    (Without BEGIN IMMEDIATE this fails in its first round, three runs of three.)"""
    import multiprocessing

    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = open_storage(url, heartbeat_interval=60, grace_period=180)
    study = optuna.create_study(storage=storage, study_name="race")
    context = multiprocessing.get_context("fork")
    for _ in range(8):
        study.enqueue_trial({})
        trial_id = study.get_trials(deepcopy=False)[-1]._trial_id
        barrier, results = context.Barrier(8), context.Queue()
        workers = [
            context.Process(target=_claim, args=(url, trial_id, barrier, results)) for _ in range(8)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        outcomes = [results.get(timeout=5) for _ in workers]
        assert sorted(map(str, outcomes)) == ["False"] * 7 + ["True"], outcomes


def test_a_study_database_locked_by_a_frozen_writer_is_one_line(tmp_path: Path):
    """Another process holds the SQLite write lock (as a worker stopped mid-write does): the
    storage's wait runs out and the worker says why in one line, not Optuna's traceback."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 0.2}})
    holder = sqlite3.connect(tmp_path / "study.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with (
            pytest.raises(UserError, match=r"stayed locked .* SIGSTOP") as caught,
            lock_errors_in_words(url),
        ):
            optuna.create_study(storage=storage, study_name="s")
    finally:
        holder.rollback()
        holder.close()
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError), lock_errors_in_words(url):  # anything else: untouched
        raise ValueError("not a lock")
