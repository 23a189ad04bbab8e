"""Fixtures of the tuning tests: a real PostgreSQL server, and `soccer-td3 tune` workers as a
user starts them (real subprocesses on the real simulator, budgets of a few hundred steps)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

# Goalie (penalty episodes end by 1000 steps), tiny nets, two looks at each trial.
TINY = [
    "--timesteps-per-trial",
    "200",
    "--set",
    "learning_starts=100",
    "--set",
    "eval_freq=100",
    "--set",
    "eval_episodes=1",
    "--set",
    "log_interval=100",
    "--set",
    "device=cpu",
]
TINY_SPACE = "net: '64,64'\nbatch_size: [32, 64]\n"


def tune_command(save_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "soccer_td3", "tune", "--save-dir", str(save_dir), *TINY, *args]


@pytest.fixture
def tiny_space(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(TINY_SPACE)
    return path


def start_worker(
    save_dir: Path, *args: str, core: int | None = 0, memory_limit: int | None = None
) -> subprocess.Popen:
    """A worker on one CPU core (None: on all of them, for --n-jobs), as if it had a machine
    of its own, whose output goes to save_dir.log (a pipe nobody reads could fill and block
    it); `memory_limit` caps its address space in bytes, as a small machine would.

    One core each: a trial sizes torch's thread pool to the cores it may use, and two workers
    both spinning two OpenMP threads on two cores measured 27x slower here (78 s instead of
    2.9 s for a 300-step run) than one thread each."""
    import resource

    cores = sorted(os.sched_getaffinity(0))
    mine = set(cores) if core is None else {cores[core % len(cores)]}

    def limit() -> None:
        os.sched_setaffinity(0, mine)
        if memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    log = save_dir.with_suffix(".log").open("a")
    return subprocess.Popen(
        tune_command(save_dir, *args), stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit
    )


def finish(worker: subprocess.Popen, save_dir: Path, timeout: float = 240) -> str:
    worker.wait(timeout=timeout)
    output = save_dir.with_suffix(".log").read_text()
    assert worker.returncode == 0, output
    return output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server on a free local port, in a temporary data directory.

    PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user that
    Debian's package creates; its directory is under /tmp because pytest's own temporary
    directories are readable by root only."""
    initdb = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    if initdb is None:
        pytest.skip("PostgreSQL server binaries not installed (`make system-deps` installs them)")
    bin_dir = Path(initdb).parent
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as postgres")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to start PostgreSQL as")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="soccer_td3_pg_"))
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_postgres, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = root / "server.log"
            pytest.fail(
                f"{Path(command[0]).name} failed: {done.stderr or done.stdout}"
                + (log.read_text() if log.is_file() else "")
            )

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = str(root / "server.log")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", log, "-w", "-o", options, "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database on the server: each test's study starts from nothing."""
    import psycopg2

    name = f"tune_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(f"{postgres_server}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()
    return f"{postgres_server}/{name}"


def wait_for(condition, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def study_trials(url: str, study_name: str = "soccer-td3") -> list:
    import optuna

    return optuna.load_study(study_name=study_name, storage=url).trials


def evaluated_running_trials(url: str, save_dir: Path, study_name: str = "soccer-td3") -> list:
    """RUNNING trials that reported an evaluation: a worker surely inside train() (its signal
    handlers set, its heartbeat going), with steps still to go."""
    import optuna
    from optuna.trial import TrialState

    if "optuna-dashboard" not in save_dir.with_suffix(".log").read_text():
        return []  # not before the worker made the study: reading would race to create it
    try:
        trials = optuna.load_study(study_name=study_name, storage=url).trials
    except (KeyError, ValueError, optuna.exceptions.StorageInternalError):
        return []  # the study is not made yet
    return [t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values]
