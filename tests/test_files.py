"""files.py on real files: a write is whole or not at all, a user's file is read or refused."""

import re
from pathlib import Path

import pytest

from soccer_td3.errors import UserError
from soccer_td3.files import atomic_path, read_text, write_text
from tests.conftest import fill


def test_write_text_replaces_the_file_and_leaves_no_temporary(tmp_path: Path):
    path = tmp_path / "config.yaml"
    write_text(path, "a: 1\n")
    write_text(path, "a: 2\n")
    assert path.read_text() == "a: 2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_a_full_disk_keeps_the_previous_content_and_says_so(small_disk):
    disk = small_disk(64)
    path = disk / "eval.json"
    write_text(path, "old\n")
    fill(disk, 0)
    with pytest.raises(UserError, match="keeps its previous content; free some space"):
        write_text(path, "x" * 200_000)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in disk.iterdir()) == ["eval.json", "filler"]


def test_a_failure_inside_the_block_removes_the_temporary_and_keeps_the_file(tmp_path: Path):
    path = tmp_path / "actor.pt"
    path.write_text("previous")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the exporter failed")
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["actor.pt"]


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.write_bytes(b"\x80\x81\xfe\xff" * 10), "is not a text file (not UTF-8)"),
        (lambda p: p.mkdir(), "is a folder, not a file"),
        (lambda p: None, "does not exist"),
    ],
)
def test_read_text_refuses_in_one_line_what_is_no_text_file(tmp_path: Path, make, words):
    path = tmp_path / "settings.yaml"
    make(path)
    with pytest.raises(UserError, match=re.escape(words)) as error:
        read_text(path, "config file", "pass a YAML file to --config")
    assert "--config" in str(error.value) and "\n" not in str(error.value)


def test_a_target_that_is_no_regular_file_is_written_in_place(tmp_path: Path):
    """`--json /dev/stdout` or a pipe: renaming over it would put a file where the device
    or the pipe was (as root, the hostile sweep replaced /dev/full so)."""
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_text(fifo, '{"score": 1}')
    reader.join(timeout=10)
    assert received == ['{"score": 1}']
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]
