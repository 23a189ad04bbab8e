"""Everything a run needs settled before its first step, in one place for `train` and `tune`
(`compare` starts `train` processes, so its runs come through here too).

Every check that can fail runs before anything is written: memory, the device, --init-from
weights, and for a resume its tasks, network shapes and step counts. Only then is the folder
claimed (training/run_dir.py: one process per folder) and config.yaml written, so a refused
run leaves no folder behind and a run's config.yaml changes only once its resume is accepted.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from soccer_td3.agent.pretrained import PretrainedWeights
from soccer_td3.config import TrainConfig
from soccer_td3.errors import UserError
from soccer_td3.training.checkpoint import (
    Checkpoint,
    check_compatible,
    check_resumable,
    run_folder,
)
from soccer_td3.training.loop import load_init_weights, template_networks
from soccer_td3.training.metrics import read_log
from soccer_td3.training.run_dir import (
    LOCK_FILE,
    FolderClaim,
    claim,
    new_run_dir,
    remove_what_we_wrote,
)
from soccer_td3.training.settings import check_memory, resolve_device


@dataclass
class PreparedRun:
    """A run ready to train: its config, its folder (claimed while `claim` is held), what
    that folder held before (a user's files there are never removed), the checkpoint it
    resumes and the --init-from weights."""

    config: TrainConfig
    run_dir: Path
    claim: FolderClaim
    found: set[Path]
    checkpoint: Checkpoint | None = None
    init: PretrainedWeights | None = None
    asked: Path | None = None  # the --save-dir of a new run

    @property
    def moved(self) -> bool:
        """Whether a new run went beside the folder asked for (it held a run, or another
        process was starting one there)."""
        return self.asked is not None and self.run_dir != self.asked


def check_before_writing(config: TrainConfig, checkpoint: Checkpoint | None):
    """The checks that need no folder; returns the --init-from weights."""
    check_memory(config, resolve_device(config.speed.device))
    init = load_init_weights(config)
    if checkpoint is not None:
        if config.environment.env != checkpoint.state["tasks"]:
            raise UserError(
                f"checkpoint {checkpoint.path} is from tasks {checkpoint.state['tasks']}, not "
                f"{config.environment.env}; resume it with its own tasks"
            )
        check_compatible(checkpoint, *template_networks(config))
        check_resumable(checkpoint, config, run_folder(checkpoint))
        for log, increasing in (("progress.csv", True), ("episodes.csv", False)):
            if (run_folder(checkpoint) / log).is_file():  # damaged: refused, nothing written
                read_log(run_folder(checkpoint) / log, increasing)
    return init


def prepare_run(
    config: TrainConfig, save_dir: Path | None, checkpoint: Checkpoint | None = None
) -> PreparedRun:
    """A run in a new folder, `save_dir` (or beside it, when it holds a run), that starts
    afresh or continues `checkpoint` (the tuner's retry of a killed trial); or, with no
    save_dir, the resume of `checkpoint` in its own folder. Checked, claimed, and its
    config.yaml written."""
    init = check_before_writing(config, checkpoint)
    if save_dir is None and checkpoint is None:
        raise ValueError("prepare_run needs a save_dir, a checkpoint, or both")
    # Ctrl-C waits while the folder is made and claimed and config.yaml written; one that came
    # meanwhile is raised after it, and what this run wrote is undone.
    interrupted: list[int] = []
    main_thread = threading.current_thread() is threading.main_thread()  # handlers live there
    if main_thread:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    try:
        if save_dir is not None:
            run_dir, held = new_run_dir(save_dir)
        else:
            run_dir = run_folder(checkpoint)
            held = claim(run_dir, "training this run", "--resume (a run folder you can write)")
        found = {path for path in run_dir.iterdir() if path.name != LOCK_FILE}
        config.to_yaml(run_dir / "config.yaml")
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    if interrupted:
        if save_dir is not None:
            remove_what_we_wrote(run_dir, found)
        raise KeyboardInterrupt
    return PreparedRun(config, run_dir, held, found, checkpoint, init, asked=save_dir)
