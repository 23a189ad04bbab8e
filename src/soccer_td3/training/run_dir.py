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
    return writable_dir(candidate, "--save_dir")


def writable_dir(folder: Path, flag: str) -> Path:
    """Create `folder` and prove a file can be written in it, so an unwritable place fails at
    once, as one line naming the flag to change, not after hours of training. (Permission
    bits alone are no proof: root ignores them.)"""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"cannot write the folder {folder}: {exc.strerror or exc}; pass a writable {flag}"
        ) from None
    return folder
