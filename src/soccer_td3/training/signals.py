"""Stopping a run cleanly: the first SIGINT/SIGTERM ends it after the current step with a
checkpoint; a second one ends it at once."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM: the step finished, a checkpoint was written, the run can be resumed."""

    def __init__(self, step: int, checkpoint: Path) -> None:
        super().__init__(f"stopped at step {step}; checkpoint {checkpoint}")
        self.step, self.checkpoint = step, checkpoint


class EvaluationInterrupted(Exception):
    """The first SIGINT/SIGTERM came during an evaluation: it is abandoned (it would hold the
    stop for tens of seconds), and the run stops with a checkpoint as after any step."""


class StopOnSignal:
    """While active, the first SIGINT/SIGTERM asks the loop to stop after the current step
    (it then writes a checkpoint); a second one exits at once, after `on_abort` (which
    removes a half-written checkpoint and says where the last whole one is). Checkpoints are
    written atomically, so exiting mid-write leaves the previous one intact."""

    def __init__(self, on_abort: Callable[[], None] | None = None) -> None:
        self.requested = False
        self.on_abort = on_abort
        self.interruptible = False
        self._previous: dict[int, object] = {}

    @contextlib.contextmanager
    def interruptible_section(self) -> Iterator[None]:
        """Inside it, the first signal raises EvaluationInterrupted at once instead of
        waiting for the step's end: for work that changes no training state."""
        self.interruptible = True
        try:
            yield
        finally:
            self.interruptible = False

    def _handle(self, signum, frame) -> None:
        if self.requested:
            if self.on_abort is not None:
                self.on_abort()
            os._exit(128 + signum)
        self.requested = True
        if self.interruptible:
            self.interruptible = False
            raise EvaluationInterrupted

    def __enter__(self) -> StopOnSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            # Once a stop has begun, what is left is cleanup and the line that says how to
            # resume: a second Ctrl-C then would land in some finaliser (a simulator's
            # __del__) and print its traceback. It is ignored until the process ends.
            signal.signal(sig, signal.SIG_IGN if self.requested else handler)


class RedFlagStop(Exception):
    """--strict-redflags: a loss or non-finite red flag ended the run (exit code 3)."""
