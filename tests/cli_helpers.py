"""Running the CLI as a user does: its exit code, stdout and stderr.

`soccer_td3` calls the CLI's own `main()` in this process: the same code from the parsed
command line to the exit code, without the 4 s a new interpreter spends importing torch (and
its optimiser's torch._dynamo) and compiling the simulator's model, which was most of what
`make test` waited for. What only a process of its own shows goes through `in_a_process`:
signals, the interpreter's exit, warnings printed at import, a console script's entry point.
"""

import contextlib
import io
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path


def soccer_td3(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`soccer-td3 ARGS` through `main()` here. One torch thread (OMP_NUM_THREADS=1) as a run
    beside another test's would size itself, and every process-wide setting a command may
    change (torch threads, CPU affinity, signal handlers, cwd) is restored after it. An
    exception that escapes `main()` is what a process would print: a traceback, exit 1."""
    import torch

    from soccer_td3.cli import main

    saved_threads, saved_cores = torch.get_num_threads(), os.sched_getaffinity(0)
    saved_handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    saved_omp, saved_cwd = os.environ.get("OMP_NUM_THREADS"), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    os.environ["OMP_NUM_THREADS"] = "1"  # the command's own thread sizing then leaves it be
    torch.set_num_threads(1)
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        if saved_omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved_omp
        torch.set_num_threads(saved_threads)
        os.sched_setaffinity(0, saved_cores)
        for number, handler in saved_handlers.items():
            signal.signal(number, handler)
    return subprocess.CompletedProcess(["soccer-td3", *args], code, out.getvalue(), err.getvalue())


def in_a_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m soccer_td3 ARGS` in a new interpreter, for what only a process shows."""
    return subprocess.run(
        [sys.executable, "-m", "soccer_td3", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def assert_error_after_output(result: subprocess.CompletedProcess, *words: str) -> None:
    """A failure mid-run: the progress shown before stays, the error is the last line, one
    line, exit 2, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("soccer-td3: error: "), result.stderr
    for word in words:
        assert word in last, last
