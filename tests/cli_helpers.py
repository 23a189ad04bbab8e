"""Running the CLI as a user does: a real subprocess, its exit code and stderr."""

import subprocess
import sys
from pathlib import Path


def soccer_td3(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
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
