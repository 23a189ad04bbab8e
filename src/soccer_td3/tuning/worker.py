"""A worker: runs trials of a shared study until the study, not the worker, has enough.

`--trials N` is the study's total: the study is done when N trials have finished (COMPLETE or
PRUNED), whichever workers ran them. That is what Optuna's
`MaxTrialsCallback(N, states=(COMPLETE, PRUNED))` counts, but checked before a trial starts
rather than after one ends: the callback stops a worker only once its own trial has finished,
so K workers overshoot N by up to K-1 trials. Here a worker starts a trial only while finished +
running + queued trials < N, and a trial that still finds itself beyond the N-th live trial
(two workers asked within the same instant; trial numbers are handed out under a lock, so they
order the claims) gives its slot back at once, marked FAIL with user attribute `surplus`.

A worker with nothing left to start waits while other workers' trials run: if one of those
workers dies, its trial goes stale, is failed and queued again (storage.py), and a waiting
worker runs it, resuming from the dead trial's last checkpoint (objective.py). So the study
completes as long as one worker is alive, and every worker ends with the whole study in view
to write the outputs from.

A worker survives its trials: a trial that raises (out of memory, a full disk) is FAIL and the
worker starts the next one, unless FAILS_IN_A_ROW of its trials failed in a row, which says
the worker itself is broken. A trial whose heartbeat lapsed while it still trained (a frozen
process, a database blip) has been failed and queued again by another worker: its original
worker notices at its next evaluation, says so in one line and moves on.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState
from rich.console import Console

from soccer_td3.config import TrainConfig
from soccer_td3.cores import available_cores, core_slots, pin
from soccer_td3.errors import UserError
from soccer_td3.training.signals import TrainingInterrupted
from soccer_td3.tuning.objective import TrialObjective, TrialTakenOver, taken_over
from soccer_td3.tuning.space import SearchSpace
from soccer_td3.tuning.storage import (
    MAX_RETRIES,
    lock_errors_in_words,
    open_storage,
    open_study,
    retry_callback,
)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
LIVE = (*FINISHED, TrialState.RUNNING, TrialState.WAITING)
FAILS_IN_A_ROW = 3  # then the worker, not the trials, is what is broken
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class SurplusTrial(Exception):
    """A trial beyond the study's N-th: it gives its slot back before training."""


class TuneInterrupted(Exception):
    """SIGINT/SIGTERM: the running trial (if any) checkpointed and was queued again, unless
    its retry budget was spent."""

    def __init__(self, number: int | None, queued: bool) -> None:
        if number is None:
            what = "no trial was running here"
        elif queued:
            what = f"trial {number} is queued again with the same parameters"
        else:
            what = (
                f"trial {number} is not queued again: it was already retried {MAX_RETRIES} "
                "times (the limit)"
            )
        super().__init__(f"interrupted: {what}; run the same command to continue the study")
        self.number, self.queued = number, queued


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside a trial's training acts as Ctrl-C does (train() has its own handler)."""
    raise KeyboardInterrupt


@dataclass(frozen=True)
class WorkerPlan:
    """Everything a worker process needs (picklable: --n-jobs starts workers by spawn)."""

    storage_url: str
    study_name: str
    heartbeat_interval: int
    grace_period: int
    base: dict[str, Any]  # TrainConfig of every trial before the searched values
    space: SearchSpace
    save_dir: Path
    trials: int
    pruner: str
    study_settings: dict[str, Any]  # recorded in the study; joining workers must match
    quiet: bool = False  # no progress bars: several workers share one terminal


def make_pruner(name: str, timesteps_per_trial: int) -> optuna.pruners.BasePruner:
    """Steps are env steps. Median: like rl-zoo3, no pruning in the first 5 trials nor in the
    first third of a trial (early scores are noise: the robot falls whatever it learned)."""
    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=5, n_warmup_steps=timesteps_per_trial // 3
        )
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}")


def make_sampler() -> optuna.samplers.BaseSampler:
    """TPE with no fixed seed: workers seeded alike would sample the same first trials.
    constant_liar (Optuna's default) keeps parallel workers off each other's running trials."""
    return optuna.samplers.TPESampler(constant_liar=True)


def trial_counts(study: optuna.Study) -> Counter[TrialState]:
    return Counter(trial.state for trial in study.get_trials(deepcopy=False))


def is_surplus(study: optuna.Study, number: int, trials: int) -> bool:
    """Whether trial `number` is beyond the study's `trials`-th live (not failed) trial."""
    earlier = [t for t in study.get_trials(deepcopy=False, states=LIVE) if t.number <= number]
    return len(earlier) > trials


class _SlotGuard:
    """Wraps the objective: remembers the running trial and how it ended, refuses surplus
    ones, and turns a lapsed trial's last report into TrialTakenOver."""

    def __init__(self, objective: Callable[[optuna.Trial], float], trials: int) -> None:
        self.objective, self.trials = objective, trials
        self.current: int | None = None
        self.error: Exception | None = None
        self.interrupted = False

    def __call__(self, trial: optuna.Trial) -> float:
        self.current, self.error, self.interrupted = trial.number, None, False
        if is_surplus(trial.study, trial.number, self.trials):
            trial.set_user_attr("surplus", True)
            raise SurplusTrial(f"the study already has {self.trials} trials; slot given back")
        try:
            value = self.objective(trial)
        except TrainingInterrupted as stop:
            # A stop, not a failure: run_worker's study.optimize catches every Exception.
            self.interrupted = True
            if taken_over(trial):
                self.error = TrialTakenOver(trial.number)  # nothing of ours left to requeue
            raise KeyboardInterrupt(str(stop)) from None
        except optuna.TrialPruned:
            raise  # a verdict on the trial (PRUNED), not a failure
        except TrialTakenOver as exc:
            self.error = exc
            raise
        except Exception as exc:
            self.error = exc
            if taken_over(trial):  # e.g. Optuna refusing a report to a FAIL trial
                self.error = TrialTakenOver(trial.number)
                raise self.error from None
            raise
        if taken_over(trial):
            self.error = TrialTakenOver(trial.number)
            raise self.error
        return value


class _NoTraceback(logging.Filter):
    """Optuna logs a failed trial with its traceback; for these the message is the story, and
    a taken-over trial's story is told by the worker's own line."""

    QUIET = (UserError, SurplusTrial, TrainingInterrupted, KeyboardInterrupt)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TrialTakenOver):
            return False
        if record.exc_info and isinstance(record.exc_info[1], self.QUIET):
            record.exc_info, record.exc_text = None, None
        return True


_NO_TRACEBACK = _NoTraceback()


def _fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        fail_stale_trials(study)


def requeue(study: optuna.Study, number: int, retry: RetryHeartbeatStaleTrialCallback) -> bool:
    """An interrupted trial (Ctrl-C, SIGTERM) is queued again like a dead worker's; False when
    the retry callback declined (the trial's retry budget is spent)."""
    # deepcopy: the callback appends to the trial's retry_history in place, which must not
    # reach this process's cached copy (as Optuna's own fail_stale_trials copies).
    for trial in study.get_trials(deepcopy=True, states=(TrialState.FAIL,)):
        if trial.number == number:
            retry(study, trial)
    return any(
        t.system_attrs.get("retry_history", [None])[-1] == number
        for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    )


def run_worker(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    trials: int,
    poll_seconds: float,
) -> None:
    """Run trials until the study has `trials` finished ones (see the module docstring).
    Ctrl-C (or SIGTERM) anywhere ends it with TuneInterrupted, saying what was requeued."""
    logging.getLogger("optuna.study._optimize").addFilter(_NO_TRACEBACK)  # once per process
    try:
        _run_trials(study, objective, trials, poll_seconds)
    except KeyboardInterrupt:  # between trials: waiting, counting, asking
        raise TuneInterrupted(None, False) from None


def _run_trials(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    trials: int,
    poll_seconds: float,
) -> None:
    guard = _SlotGuard(objective, trials)
    said_waiting, failed_in_a_row = False, 0
    while True:
        _fail_stale(study)
        counts = trial_counts(study)
        finished = sum(counts[state] for state in FINISHED)
        if finished >= trials:
            return
        running, queued = counts[TrialState.RUNNING], counts[TrialState.WAITING]
        if queued == 0 and finished + running >= trials:
            if not said_waiting:
                print(
                    f"{finished}/{trials} trials finished; waiting for {running} running on "
                    "other workers (a dead worker's trial is retried here)",
                    flush=True,
                )
                said_waiting = True
            time.sleep(poll_seconds)
            continue
        said_waiting = False
        guard.current = None
        try:
            # catch=(Exception,): a trial's error fails that trial, not the worker.
            study.optimize(guard, n_trials=1, catch=(Exception,), gc_after_trial=True)
        except (TrainingInterrupted, KeyboardInterrupt):
            number = guard.current
            queued = number is not None and requeue(study, number, retry_callback())
            raise TuneInterrupted(number, queued) from None
        except ValueError:
            # Optuna cannot tell a trial that another worker already failed ("Cannot tell a
            # FAIL trial"): expected only for a taken-over one.
            if not isinstance(guard.error, TrialTakenOver):
                raise
        if isinstance(guard.error, TrialTakenOver):
            print(
                f"trial {guard.current}: its heartbeat lapsed while it trained, so another "
                "worker failed it and queued it again; stopped it here and moving on",
                flush=True,
            )
            if guard.interrupted:  # the stop asked for still holds; the trial is not ours
                raise TuneInterrupted(None, False)
            continue
        if guard.error is None:  # complete, pruned, or a surplus slot given back
            failed_in_a_row = 0
            continue
        failed_in_a_row += 1
        print(f"trial {guard.current} failed: {guard.error!r}; going on", flush=True)
        if failed_in_a_row >= FAILS_IN_A_ROW:
            raise UserError(
                f"the last {FAILS_IN_A_ROW} trials failed on this worker (the last with "
                f"{guard.error!r}); fix that, then run the same command to continue the study"
            )


def open_plan_study(plan: WorkerPlan) -> optuna.Study:
    storage = open_storage(plan.storage_url, plan.heartbeat_interval, plan.grace_period)
    timesteps = plan.study_settings["timesteps_per_trial"]
    pruner = make_pruner(plan.pruner, timesteps)
    return open_study(storage, plan.study_name, make_sampler(), pruner, plan.study_settings)


def run_plan(plan: WorkerPlan, study: optuna.Study | None = None) -> None:
    """One worker of the plan's study, in this process."""
    study = study or open_plan_study(plan)
    console = Console(stderr=True, quiet=plan.quiet)
    objective = TrialObjective(TrainConfig(**plan.base), plan.space, plan.save_dir, console)
    run_worker(study, objective, plan.trials, poll_seconds=min(plan.heartbeat_interval, 5))


def _stop_with_the_parent() -> None:
    """SIGTERM this worker when its parent dies (Linux prctl PR_SET_PDEATHSIG): in a session
    of its own it would otherwise train on, unseen, after a parent killed by SIGKILL or by a
    second Ctrl-C. Elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _child_main(plan: WorkerPlan, cores: set[int]) -> None:
    """A spawned worker, in a session of its own: a terminal's Ctrl-C reaches only the
    parent, which passes exactly one SIGTERM to each worker (as compare does), so a stop by
    `kill PARENT` or by Ctrl-C checkpoints and requeues every running trial alike."""
    os.setsid()
    _stop_with_the_parent()
    signal.signal(signal.SIGTERM, raise_interrupt)
    pin(cores)
    try:
        with lock_errors_in_words(plan.storage_url):
            run_plan(plan)
    except UserError as exc:
        print(f"soccer-td3: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except TuneInterrupted as stopped:
        print(f"{multiprocessing.current_process().name}: {stopped}", flush=True)
        sys.exit(0)
    except (TrainingInterrupted, KeyboardInterrupt):
        sys.exit(0)


def run_workers(plan: WorkerPlan, n_jobs: int, study: optuna.Study) -> None:
    """This process is one worker; --n-jobs K adds K-1 worker processes on the same study.

    Processes, not Optuna's n_jobs threads: a trial seeds torch's global RNG, installs signal
    handlers and sizes torch's thread pool, all process-wide, so threads would interfere.
    Each process is pinned to its own cores and sizes torch's threads to them: two processes
    each spinning two OpenMP threads on two cores measured 27x slower here (78 s instead of
    2.9 s for a 300-step run) than one thread each."""
    slices = core_slots(n_jobs, "--n-jobs")
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_child_main, args=(plan, slices[i]), name=f"tune-worker-{i}")
        for i in range(1, n_jobs)
    ]
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    everything = set(available_cores())
    try:
        for child in children:
            child.start()
        pin(slices[0])
        run_plan(plan, study)
    except BaseException:
        for child in children:
            if child.is_alive():
                child.terminate()  # one SIGTERM: it checkpoints and requeues its trial
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        for child in (c for c in children if c.pid is not None):  # those that started
            child.join()
            if child.exitcode not in (0, None):
                print(f"worker process {child.name} exited with code {child.exitcode}")
        pin(everything)
