import signal
from pathlib import Path

import optuna
from optuna.trial import TrialState

from soccer_td3.tuning.storage import open_storage, open_study, with_driver
from soccer_td3.tuning.worker import is_surplus, run_worker
from tests.tuning.conftest import evaluated_running_trials, finish, start_worker, wait_for


def test_a_trial_beyond_the_studys_total_gives_its_slot_back():
    study = optuna.create_study()
    first, second, third = study.ask(), study.ask(), study.ask()  # three workers, at once
    study.tell(first, 1.0)
    assert not is_surplus(study, first.number, trials=2)
    assert not is_surplus(study, second.number, trials=2)
    assert is_surplus(study, third.number, trials=2)  # the claim that came last loses
    study.tell(second, state=TrialState.FAIL)  # a failed trial frees its slot
    assert not is_surplus(study, third.number, trials=2)


def test_trials_counts_the_studys_trials_not_this_workers(tmp_path: Path):
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", 1, 3)
    study = open_study(
        storage, "s", optuna.samplers.RandomSampler(seed=0), optuna.pruners.NopPruner(), {}
    )
    study.add_trial(optuna.create_trial(value=0.5))  # another worker's finished trial
    ran = []

    def objective(trial: optuna.Trial) -> float:
        ran.append(trial.number)
        return trial.suggest_float("x", 0, 1)

    run_worker(study, objective, trials=3, poll_seconds=0.1)
    assert ran == [1, 2]
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    run_worker(study, objective, trials=3, poll_seconds=0.1)  # a late worker: nothing to do
    assert ran == [1, 2]


def test_a_killed_worker_loses_one_trial_which_is_failed_and_retried(tmp_path, tiny_space):
    """SIGKILL mid-trial (after its first evaluation), then another worker: the dead trial's
    heartbeat stops, it becomes FAIL and is run again with the same parameters."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["--storage", url, "--trials", "1", "--search-space", str(tiny_space)]
    args += ["--timesteps-per-trial", "400", "--heartbeat-interval", "1", "--grace-period", "2"]
    doomed = start_worker(tmp_path / "a", *args)

    try:
        wait_for(lambda: evaluated_running_trials(url, tmp_path / "a"), 180, "an evaluated trial")
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    (dead,) = optuna.load_study(study_name="soccer-td3", storage=url).trials
    assert dead.state == TrialState.RUNNING  # killed before it could finish: nobody told

    output = finish(start_worker(tmp_path / "b", *args), tmp_path / "b")
    dead, retry = optuna.load_study(study_name="soccer-td3", storage=url).trials
    assert dead.state == TrialState.FAIL
    assert retry.state == TrialState.COMPLETE
    assert retry.system_attrs["failed_trial"] == dead.number
    assert retry.params == dead.params
    assert retry.user_attrs["run_dir"] == str((tmp_path / "b" / "trial_1").resolve())
    assert "1 complete, 0 pruned, 1 failed" in output
    table = (tmp_path / "b" / "trials.csv").read_text()
    assert "retried as trial 1" in table and "retry of trial 0" in table


def test_two_workers_share_one_postgresql_study(postgres_url, tmp_path, tiny_space):
    """Two workers (as on two machines: each its own save dir) and one study of 3 trials:
    each trial runs exactly once, both workers take part, both end with the whole study."""
    args = ["--storage", postgres_url, "--study-name", "shared", "--trials", "3"]
    args += ["--search-space", str(tiny_space), "--heartbeat-interval", "2"]
    args += ["--grace-period", "30"]
    machines = [tmp_path / "a", tmp_path / "b"]
    workers = [start_worker(m, *args, core=i) for i, m in enumerate(machines)]
    for worker, machine in zip(workers, machines, strict=True):
        finish(worker, machine)

    every = optuna.load_study(study_name="shared", storage=with_driver(postgres_url)).trials
    trials = [t for t in every if t.state == TrialState.COMPLETE]
    assert len(trials) == 3
    # Two claims within the same instant: the later one gives its slot back before training.
    assert all(t.user_attrs.get("surplus") for t in every if t not in trials)
    recorded = sorted(t.user_attrs["run_dir"] for t in trials)
    on_disk = sorted(str(p.resolve()) for m in machines for p in m.glob("trial_*"))
    assert recorded == on_disk  # three run folders, one per trial: none lost or run twice
    assert {Path(r).parent.name for r in recorded} == {"a", "b"}  # both workers ran trials
    for machine in machines:
        rows = (machine / "trials.csv").read_text().splitlines()[1:]
        assert [row.split(",")[1] for row in rows].count("COMPLETE") == 3
        assert (machine / "best_config.yaml").is_file()


def test_a_stopped_worker_checkpoints_its_trial_and_queues_it_again(tmp_path, tiny_space):
    """SIGTERM (or Ctrl-C) mid-trial: the run checkpoints, the trial is failed and queued again
    with the same parameters for the next worker, and the command exits 0."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["--storage", url, "--trials", "1", "--search-space", str(tiny_space)]
    worker = start_worker(tmp_path / "a", *args, "--timesteps-per-trial", "400")
    wait_for(lambda: evaluated_running_trials(url, tmp_path / "a"), 180, "an evaluated trial")
    worker.send_signal(signal.SIGTERM)
    output = finish(worker, tmp_path / "a")
    assert "interrupted: the running trial is queued again" in output
    assert "0 complete, 0 pruned, 1 failed, 1 queued" in output
    stopped, queued = optuna.load_study(study_name="soccer-td3", storage=url).trials
    assert (stopped.state, queued.state) == (TrialState.FAIL, TrialState.WAITING)
    assert queued.params == stopped.params and queued.system_attrs["failed_trial"] == 0
    assert list((tmp_path / "a" / "trial_0" / "checkpoints").glob("step_*"))
