"""Stopping a run cleanly: the first SIGINT/SIGTERM ends it after the current step with a
checkpoint; a second one ends it at once."""

from __future__ import annotations

import os
import signal
from pathlib import Path


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM: the step finished, a checkpoint was written, the run can be resumed."""

    def __init__(self, step: int, checkpoint: Path) -> None:
        super().__init__(f"stopped at step {step}; checkpoint {checkpoint}")
        self.step, self.checkpoint = step, checkpoint


class StopOnSignal:
    """While active, the first SIGINT/SIGTERM asks the loop to stop after the current step
    (it then writes a checkpoint); a second one exits at once. Checkpoints are written
    atomically, so exiting mid-write leaves the previous one intact."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested:
            os._exit(128 + signum)
        self.requested = True

    def __enter__(self) -> StopOnSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class RedFlagStop(Exception):
    """--strict-redflags: a loss or non-finite red flag ended the run (exit code 3)."""
