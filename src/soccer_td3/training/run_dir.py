"""Run folders: one per run, never overwritten, and never two processes in one.

A folder is claimed by an exclusive lock (flock) on its `.lock` file, held for the claiming
process's life: the kernel drops it when the process ends, killed or not, so a claim is never
left stale. Checking a folder and then creating it is not enough: two `train` processes started
together both found the folder free and wrote into it (issue 29). So a new run takes the first
candidate folder that holds no run *and* whose lock it gets; a resume or an export that finds
its folder locked is refused.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from soccer_td3.errors import UserError

RUN_MARKERS = ("config.yaml", "progress.csv", "final")
LOCK_FILE = ".lock"


def holds_run(folder: Path) -> bool:
    return any((folder / marker).exists() for marker in RUN_MARKERS)


class FolderClaim:
    """This process's lock on a folder; `release()`, the end of its `with` or the process's end
    gives it up."""

    def __init__(self, folder: Path, fd: int) -> None:
        self.folder, self._fd = folder, fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> FolderClaim:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def try_claim(folder: Path) -> FolderClaim | None:
    """The folder's lock, or None when another process holds it. The holder's pid is written
    into the lock file, for the message of whoever is refused."""
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(
            f"cannot write the folder {folder}: {exc.strerror or exc}; it must be writable"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return FolderClaim(folder, fd)


def holder(folder: Path) -> str:
    """The pid in a held lock file, as text ("?" when unreadable)."""
    try:
        return (folder / LOCK_FILE).read_text().strip() or "?"
    except (OSError, UnicodeDecodeError):
        return "?"


def claim(folder: Path, what: str, flag: str) -> FolderClaim:
    """The lock of an existing folder this process must have alone (a resume), after proving
    the folder writable (`flag` names what to change when it is not)."""
    writable_dir(folder, flag)
    taken = try_claim(folder)
    if taken is None:
        raise UserError(
            f"{folder} is in use by another soccer-td3 process (pid {holder(folder)}), which "
            f"is {what} there; two at once would overwrite each other: wait for it to end"
        )
    return taken


def claim_new_folder(
    base: Path, taken: Callable[[Path], bool], flag: str
) -> tuple[Path, FolderClaim]:
    """`base`, or the first `base_<n>` beside it, that `taken` says is free and whose lock this
    process gets; created, checked writable and claimed."""
    candidate, n = base, 1
    while True:
        if not taken(candidate):
            writable_dir(candidate, flag)
            claimed = try_claim(candidate)
            if claimed is not None and not taken(candidate):
                return candidate, claimed
            if claimed is not None:  # another process claimed, wrote and left it meanwhile
                claimed.release()
        candidate = base.with_name(f"{base.name}_{n}")
        n += 1


def new_run_dir(save_dir: Path) -> tuple[Path, FolderClaim]:
    """`save_dir` itself if it holds no run yet, else the first free `save_dir_<n>` beside it,
    claimed for this process. Creates the folder, so an unwritable location fails here, before
    any training time is spent."""
    return claim_new_folder(save_dir, holds_run, "--save_dir")


def writable_dir(folder: Path, flag: str) -> Path:
    """Create `folder` and prove a file can be written in it, so an unwritable place fails at
    once, as one line naming the flag to change, not after hours of training. (Permission
    bits alone are no proof: root ignores them.)"""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write_test_{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"cannot write the folder {folder}: {exc.strerror or exc}; pass a writable {flag}"
        ) from None
    return folder


def remove_what_we_wrote(run_dir: Path, found: set[Path]) -> None:
    """Undo a run folder that never trained: what this run wrote, and the folder if it is
    then empty; anything that was there before stays."""
    for path in run_dir.iterdir():
        if path not in found:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    if not any(run_dir.iterdir()):
        run_dir.rmdir()
