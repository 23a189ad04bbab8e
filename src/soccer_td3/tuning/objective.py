"""One trial: sample the space, write a normal run folder, train in this process, score it.

Each trial is `<save_dir>/trial_<number>` with its own config.yaml, logs and checkpoints, so a
good one can be continued with `soccer-td3 train --resume`. The trial records its full config
in the study (user attribute `config`), so any machine can write the best config from the
database alone, wherever the trial ran.

A retry (of a trial whose worker died or was stopped) starts from that attempt's last
checkpoint when its folder is reachable here, so a killed worker loses only the steps since
that checkpoint; its own folder holds the steps after it.
"""

from __future__ import annotations

import socket
from pathlib import Path

import optuna
import sqlalchemy.exc
import yaml
from rich.console import Console

from soccer_td3.config import TrainConfig, flatten
from soccer_td3.errors import UserError
from soccer_td3.training.checkpoint import (
    Checkpoint,
    check_resumable,
    has_checkpoint,
    load_checkpoint,
)
from soccer_td3.training.loop import train
from soccer_td3.training.prepare import prepare_run
from soccer_td3.training.signals import RedFlagStop
from soccer_td3.tuning.space import SearchSpace, sample, trial_config

SCORE = "eval/mean_score"


class TrialTakenOver(Exception):
    """This worker's trial is no longer RUNNING in the study: its heartbeat lapsed, another
    worker failed it and queued it again. Training it further would be wasted."""

    def __init__(self, number: int) -> None:
        super().__init__(f"trial {number} was failed by another worker")


def stored(trial: optuna.Trial) -> optuna.trial.FrozenTrial:
    """The trial as the study's database holds it now: its state, and the system attributes
    a retry carries (Optuna 5's Trial exposes neither)."""
    return trial.storage.get_trial(trial._trial_id)


def taken_over(trial: optuna.Trial) -> bool:
    """Whether another worker failed this trial. A database that cannot answer right now gets
    the benefit of the doubt: a blip must not cost a trial that is still training."""
    try:
        return stored(trial).state != optuna.trial.TrialState.RUNNING
    except sqlalchemy.exc.SQLAlchemyError:
        return False


class ScoreReporter:
    """train()'s on_eval: each evaluation's competition score becomes an intermediate value,
    and the pruner may end the trial there (train's `finally` still closes logs and envs)."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial
        self.last: float | None = None

    def __call__(self, step: int, row: dict[str, float]) -> None:
        if taken_over(self.trial):
            raise TrialTakenOver(self.trial.number)
        self.last = row[SCORE]
        self.trial.report(self.last, step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"mean_score {self.last:.3f} at step {step}")


def diverged(run_dir: Path) -> bool:
    """The loop stops a run whose losses turn NaN/inf with a UserError, after logging the
    `non_finite` red flag. In a study that is a verdict on the trial's settings, not a fault:
    the trial is PRUNED, so it counts as finished and TPE learns to avoid that region (a FAIL
    would be ignored by the sampler and free its slot for another draw from it)."""
    log = run_dir / "redflags.log"
    return log.is_file() and "[non_finite]" in log.read_text()


class TrialObjective:
    """The value of a trial is the competition score of its last evaluation, not its best.

    The last one scores the weights the trial ends with (final/, what a resumed or longer run
    starts from), and it is the value the pruner already compares step by step. The best of
    several noisy evaluations is biased upward, most for the noisiest settings, so it would
    reward luck (rl-zoo3 also reports the last evaluation). When the trial's steps are not a
    multiple of eval_freq, the last evaluation is the one before the end.

    Every trial keeps the base config's seed, so trials differ by their settings, not by draw.
    """

    def __init__(
        self, base: TrainConfig, space: SearchSpace, save_dir: Path, console: Console
    ) -> None:
        self.base, self.space, self.save_dir, self.console = base, space, save_dir, console

    def __call__(self, trial: optuna.Trial) -> float:
        # A retry carries the attempt it retries in its user attributes (Optuna copies them):
        # read that folder, then record this trial's own at once, so a worker killed in the
        # next moment leaves the study naming the folder this trial made, not its parent's.
        earlier = trial.user_attrs.get("run_dir")
        config = trial_config(self.base, sample(trial, self.space))
        resume = self.earlier_attempt(trial, earlier, config)
        prepared = prepare_run(config, self.save_dir / f"trial_{trial.number}", resume)
        run_dir = prepared.run_dir
        trial.set_user_attr("run_dir", str(run_dir.resolve()))
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("config", config.flat(mode="json"))
        print(f"trial {trial.number}: {run_dir}  {trial.params}", flush=True)
        scores = ScoreReporter(trial)
        try:
            train(
                config,
                run_dir,
                console=self.console,
                init=prepared.init,
                on_eval=scores,
                resume=resume,
            )
        except RedFlagStop as flag:  # --set strict_redflags=true: a verdict, like divergence
            raise optuna.TrialPruned(str(flag)) from None
        except UserError:
            if diverged(run_dir):
                raise optuna.TrialPruned(
                    f"losses went non-finite (see {run_dir / 'redflags.log'})"
                ) from None
            raise
        finally:
            prepared.claim.release()  # a worker runs trial after trial: one lock at a time
        if scores.last is None:  # command.py sets eval_freq <= timesteps, so not reached
            raise UserError(f"trial {trial.number} made no evaluation to score it")
        return scores.last

    def earlier_attempt(
        self, trial: optuna.Trial, earlier: str | None, config: TrainConfig
    ) -> Checkpoint | None:
        """The last checkpoint of the attempt this trial retries (its folder `earlier`), when
        that folder is here and holds a run of these settings."""
        if "failed_trial" not in stored(trial).system_attrs or not earlier:
            return None
        folder = Path(earlier)
        if not has_checkpoint(folder) or not same_settings(folder / "config.yaml", config):
            print(
                f"trial {trial.number}: {folder} holds no checkpoint of these settings here; "
                "starting over"
            )
            return None
        try:
            checkpoint = load_checkpoint(folder)
            check_resumable(checkpoint, config, folder)
        except UserError as exc:
            print(f"trial {trial.number}: cannot resume {folder} ({exc}); starting over")
            return None
        print(f"trial {trial.number}: resuming {folder} at step {checkpoint.state['step']}")
        return checkpoint


def same_settings(config_file: Path, config: TrainConfig) -> bool:
    """Whether a folder's run is this trial's: another machine's path may name another run.
    The device may differ per machine without changing the run; cpu_matmul is retired."""
    try:
        theirs = yaml.safe_load(config_file.read_text())
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(theirs, dict):
        return False
    theirs, ours = flatten(theirs), config.flat(mode="json")  # an old config.yaml is flat
    return all(theirs.get(key) == value for key, value in ours.items() if key != "device")
