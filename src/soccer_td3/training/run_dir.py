"""Run folders: one per run, never overwritten."""

from __future__ import annotations

from pathlib import Path

from soccer_td3.errors import UserError

RUN_MARKERS = ("config.yaml", "progress.csv", "final")


def holds_run(folder: Path) -> bool:
    return any((folder / marker).exists() for marker in RUN_MARKERS)


def new_run_dir(save_dir: Path) -> Path:
    """`save_dir` itself if it holds no run yet, else the first free `save_dir_<n>` beside it.

    Creates the folder, so an unwritable location fails here, before any training time is spent.
    """
    candidate, n = save_dir, 1
    while holds_run(candidate):
        candidate = save_dir.with_name(f"{save_dir.name}_{n}")
        n += 1
    try:
        candidate.mkdir(parents=True, exist_ok=True)
        probe = candidate / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"cannot write the run folder {candidate}: {exc.strerror or exc}; "
            "pass a writable --save_dir"
        ) from None
    return candidate
