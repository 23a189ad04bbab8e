"""Reading the user's files and writing ours, so that nothing is half-written or misread.

Writes go to a temporary name beside the target, are fsynced, then renamed over it: a full
disk, a kill or a second Ctrl-C at any moment leaves the previous file whole, or the new one,
never a mix (POSIX rename is atomic within a filesystem). A failed write removes its temporary
file and says in one line which file kept its previous content.

Reads take bytes and decode them here, so a binary file given as a YAML file is one clear
line, not a UnicodeDecodeError traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from soccer_td3.errors import UserError


def temporary_name(path: Path) -> Path:
    """The hidden name a write of `path` goes to first, per process (two never collide), with
    `path`'s suffix (writers such as imageio's pick the format by it)."""
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


def write_failed(path: Path, exc: Exception) -> UserError:
    """The one line for a write that failed (an OSError, or a library's error wrapping one,
    as safetensors' does): what, why, and what was kept."""
    reason = getattr(exc, "strerror", None) or str(exc)
    full = getattr(exc, "errno", None) == errno.ENOSPC or "No space left" in str(exc)
    if full:
        reason = "No space left on device"
    kept = "keeps its previous content" if path.exists() else "was not written"
    hint = "; free some space and try again" if full else ""
    return UserError(f"cannot write {path} ({reason}): it {kept}{hint}")


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write `path`'s new content to (by any library); renamed over
    `path` when the block ends without error, removed when it fails. A target that exists
    and is no regular file (/dev/stdout, a pipe, /dev/full) is written in place: renaming over
    it would replace a device with a file."""
    if path.exists() and not path.is_file() and not path.is_dir():
        try:
            yield path
        except OSError as exc:
            raise write_failed(path, exc) from None
        return
    tmp = temporary_name(path)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_failed(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """`path` holds `text` afterwards, or its previous content if the write failed."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_text(path: Path, what: str, fix: str) -> str:
    """A user's text file, decoded as UTF-8; `what` names it in the error ("config file"),
    `fix` says what to pass instead."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise UserError(f"{what} {path} is a folder, not a file; {fix}") from None
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist; {fix}") from None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path} ({exc.strerror or exc}); {fix}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{what} {path} is not a text file (not UTF-8); {fix}") from None
