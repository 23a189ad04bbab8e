"""The study's database: SQLite on one machine, PostgreSQL (or MySQL) for many.

Heartbeats are what let many machines share a study safely: each running trial's worker writes
a heartbeat every `heartbeat_interval` seconds, and any worker that finds a RUNNING trial
without one for `grace_period` seconds marks it FAIL and queues it again with the same
parameters (Optuna's RetryHeartbeatStaleTrialCallback, the 4.9+ name of
RetryFailedTrialCallback). So a killed worker loses the one trial it was running, never the
study. Staleness is judged with the checking worker's own grace period, which is why the study
records both numbers and a worker with other ones cannot join (see `open_study`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import random
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import StudyDirection
from sqlalchemy import event
from sqlalchemy.engine import make_url

from soccer_td3.errors import UserError

# A trial that killed its worker three times (out of memory, say) is that trial's own fault.
MAX_RETRIES = 2
SUPPORTED_BACKENDS = ("sqlite", "postgresql", "mysql")
# What `pip install` gives each SQLAlchemy driver (the URL's `+driver`, or the backend's default).
DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "psycopg": "'psycopg[binary]'",
    "pymysql": "pymysql",
    "mysqldb": "mysqlclient",
}
URL_EXAMPLES = "sqlite:///runs/tune/study.db or postgresql://user:password@host:5432/dbname"


def with_driver(url: str) -> str:
    """`postgresql://` names no driver, and SQLAlchemy 2.1 then picks psycopg 3; the project
    installs psycopg2, so a bare PostgreSQL URL gets it unless psycopg 3 is there. Anything
    that is not a URL is left for `open_storage` to refuse."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        return url
    if parsed.drivername != "postgresql" or importlib.util.find_spec("psycopg") is not None:
        return url
    return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def default_storage_url(save_dir: Path) -> str:
    return f"sqlite:///{save_dir.resolve() / 'study.db'}"


def shown_url(url: str) -> str:
    """The URL as it may appear in messages and logs: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def retry_callback() -> RetryHeartbeatStaleTrialCallback:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)


class _TableRace(Exception):
    """Another worker was creating Optuna's tables at the same moment."""


SQLITE_LOCK_WAIT = 60  # seconds a worker waits for an SQLite study's write lock


@contextlib.contextmanager
def lock_errors_in_words(url: str) -> Iterator[None]:
    """An SQLite study whose write lock stays held past SQLITE_LOCK_WAIT (a worker frozen
    mid-write: Ctrl-Z, SIGSTOP, a suspended machine) is one line naming the cause, not
    Optuna's traceback. Its trial, if any, stays RUNNING and is retried once it lapses.
    Used where a worker's errors become its exit line: `tune` itself and each --n-jobs child."""
    try:
        yield
    except (optuna.exceptions.StorageInternalError, sqlalchemy.exc.OperationalError) as exc:
        cause = exc.__cause__ or exc
        if "database is locked" not in str(cause):
            raise
        raise UserError(
            f"the study database {shown_url(url)} stayed locked for {SQLITE_LOCK_WAIT} s: "
            "another process holds its write lock (a worker stopped mid-write, by Ctrl-Z or "
            "SIGSTOP?); continue or end that process and start this worker again, or use "
            "PostgreSQL for workers that may stop"
        ) from None


def _engine_kwargs(backend: str) -> dict[str, Any]:
    if backend == "postgresql":
        # An unreachable host is one line after 10 s, not a hang of the OS's TCP timeout.
        return {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    if backend == "sqlite":
        # Several worker processes on one file wait for its lock instead of failing at once.
        return {"connect_args": {"timeout": SQLITE_LOCK_WAIT}}
    return {"pool_pre_ping": True}


def _claims_are_atomic(storage: RDBStorage) -> None:
    """Every SQLite transaction starts with BEGIN IMMEDIATE, which takes the write lock first.

    pysqlite begins a transaction only at its first write, so two workers could both read a
    WAITING (or stale) trial, then both mark it RUNNING: one trial run twice, a retry queued
    twice. With the lock taken at BEGIN, Optuna's read-check-update of a trial's state is one
    step. (SQLAlchemy's documented recipe for pysqlite transactions.)"""
    engine = storage.engine

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _take_the_write_lock_first(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections made before the listeners existed would not run them


def _one_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return " ".join(str(original).split()) or exc.__class__.__name__


def open_storage(url: str, heartbeat_interval: int, grace_period: int) -> RDBStorage:
    """Connect (and create Optuna's tables when new); every failure is one line naming the fix."""
    if heartbeat_interval < 1 or grace_period <= heartbeat_interval:
        raise UserError(
            f"--grace-period {grace_period} must exceed --heartbeat-interval "
            f"{heartbeat_interval} (>= 1): a shorter grace would fail trials that are alive"
        )
    url = with_driver(url)
    try:
        backend = make_url(url).get_backend_name()
    except sqlalchemy.exc.ArgumentError:
        raise UserError(
            f"--storage {url!r} is not a database URL; write it like {URL_EXAMPLES}"
        ) from None
    if backend not in SUPPORTED_BACKENDS:
        raise UserError(
            f"--storage {shown_url(url)!r}: unsupported database {backend!r}; use sqlite or "
            f"postgresql, like {URL_EXAMPLES}"
        )
    for _ in range(3):
        try:
            storage = _rdb_storage(url, backend, heartbeat_interval, grace_period)
            if backend == "sqlite":
                _claims_are_atomic(storage)
            return storage
        except _TableRace as race:
            # Workers started together on a new database race to create Optuna's tables; the
            # losers find them made a moment later.
            error = race.__cause__
            time.sleep(1.0 + random.random())
    raise UserError(_cannot_open(url, error))


def _rdb_storage(url: str, backend: str, heartbeat_interval: int, grace_period: int) -> RDBStorage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return RDBStorage(
                url,
                engine_kwargs=_engine_kwargs(backend),
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=retry_callback(),
            )
    except (ImportError, ModuleNotFoundError):
        raise UserError(_missing_driver(url, backend)) from None
    except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
        if "permission denied" in str(exc):
            raise UserError(_cannot_open(url, exc)) from None
        raise _TableRace from exc
    except sqlalchemy.exc.OperationalError as exc:
        if "already exists" in str(exc):  # SQLite's word for the same race
            raise _TableRace from exc
        raise UserError(_cannot_open(url, exc)) from None
    except (sqlalchemy.exc.SQLAlchemyError, RuntimeError) as exc:
        # RuntimeError: Optuna's schema-version mismatch with a database of another version.
        raise UserError(_cannot_open(url, exc)) from None


def _missing_driver(url: str, backend: str) -> str:
    driver = make_url(url).get_driver_name()
    where = f"--storage {shown_url(url)} needs the {backend} driver {driver}"
    if backend == "mysql" and driver == "mysqldb":  # a bare mysql:// URL
        return (
            f"{where}: pip install mysqlclient (it needs MySQL's client headers), or pip "
            "install pymysql and write the URL as mysql+pymysql://user:password@host/dbname"
        )
    return f"{where}: pip install {DRIVER_PACKAGES.get(driver, driver)}"


def _cannot_open(url: str, exc: BaseException) -> str:
    message = _one_line(exc)
    where = f"cannot open the study storage {shown_url(url)}: {message}"
    if "permission denied for schema" in message:
        user = make_url(url).username or "the user"
        return (
            f"{where}; PostgreSQL 15+ no longer lets every user create tables in schema "
            f"public: as the database owner run GRANT CREATE ON SCHEMA public TO {user} "
            f"(or ALTER DATABASE dbname OWNER TO {user})"
        )
    return f"{where}; check the URL, that the server runs and the database exists (createdb NAME)"


def open_study(
    storage: RDBStorage,
    study_name: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    settings: dict[str, Any],
) -> optuna.Study:
    """Create the study or join it. `settings` (tasks, budget, heartbeat) are recorded by the
    first worker; a worker with other settings would mix incomparable scores or misjudge live
    trials as dead, so it is refused with the values to use."""
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    where = f"study {study_name!r} in {shown_url(storage.url)}"
    if study.directions != [StudyDirection.MAXIMIZE]:
        raise UserError(f"{where} is not a soccer-td3 study (it minimises); use another name")
    for key, value in settings.items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value)  # a worker joining at the same moment may win
    recorded = study.user_attrs
    for key, value in settings.items():
        if recorded[key] != value:
            was, now = recorded[key], value
            if isinstance(was, dict) and isinstance(now, dict):  # name only what differs
                differ = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
                was, now = ({k: d.get(k) for k in differ} for d in (was, now))
            raise UserError(
                f"{where} was started with {key}={was!r}, not {now!r}; join it with "
                "the same settings or pass another --study-name"
            )
    return study
