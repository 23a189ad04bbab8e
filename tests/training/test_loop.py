import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from soccer_td3.agent.weights import ACTOR_FILE, CRITIC_FILE, load_actor
from soccer_td3.config import TrainConfig
from soccer_td3.envs.observation import FEATURE_SIZE
from soccer_td3.envs.registry import make_env
from soccer_td3.envs.shaping import SHAPING_TERMS
from soccer_td3.training.checkpoint import load_checkpoint
from soccer_td3.training.evaluation import evaluate_task
from soccer_td3.training.loop import train
from tests.conftest import tiny


def test_a_300_step_real_run_writes_metrics_tensorboard_and_weights_that_act(
    tiny_config, tmp_path: Path
):
    final = train(tiny_config, tmp_path)

    with (tmp_path / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["time/total_timesteps"]) for r in rows] == [100, 200, 300]
    trained = [r for r in rows if r["train/critic_loss"]]
    assert len(trained) == 2  # losses exist only after learning_starts=100
    for row in trained:
        for key in ("train/critic_loss", "train/actor_loss", "train/q_mean", "time/fps"):
            assert math.isfinite(float(row[key])), key
    assert int(rows[-1]["train/n_updates"]) == 200
    assert any(r["rollout/ep_rew_mean"] for r in rows) or int(rows[-1]["time/episodes"]) == 0

    events = EventAccumulator(str(next((tmp_path / "tb").iterdir()).parent))
    events.Reload()
    assert "train/critic_loss" in events.Tags()["scalars"]
    assert [e.step for e in events.Scalars("time/fps")] == [100, 200, 300]

    assert (final / CRITIC_FILE).is_file()
    actor = load_actor(final / ACTOR_FILE, expect_obs_dim=45, expect_act_dim=12)
    env = make_env("LowerT1GoaliePenaltyKick-v0", seed=1)
    obs, _ = env.reset(seed=1)
    with torch.no_grad():
        action = actor.to_env_units(actor(torch.as_tensor(obs))).numpy()
    assert env.action_space.contains(action.astype(np.float32))
    env.step(action)
    env.close()


def test_same_seed_same_run(tiny_config, tmp_path: Path):
    tiny_config.run.timesteps = 150
    tiny_config.run.log_interval = 150
    a = load_actor(train(tiny_config, tmp_path / "a") / ACTOR_FILE)
    b = load_actor(train(tiny_config, tmp_path / "b") / ACTOR_FILE)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize("speed", [{"compile": True}, {"precision": "bf16"}])
def test_runs_compiled_or_bf16_give_finite_losses_over_many_updates(speed, tmp_path: Path):
    """Small nets: on a CPU without native bf16 it is emulated, and the default deep nets
    took 9 minutes for this test's 2000 updates (issue 28); 300 updates show the same."""
    config = TrainConfig(
        timesteps=600, learning_starts=300, log_interval=150, device="cpu",
        actor_net=[64, 64], critic_net=[64, 64], **speed,
    )  # fmt: skip
    train(config, tmp_path)
    with (tmp_path / "progress.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["train/critic_loss"]]
    assert len(rows) == 2 and int(rows[-1]["train/n_updates"]) == 300
    for row in rows:
        for key in ("train/critic_loss", "train/actor_loss", "train/q_mean"):
            assert math.isfinite(float(row[key])), (key, row[key])


def test_two_envs_keep_the_update_to_data_ratio_and_log_each_episode(tiny_config, tmp_path: Path):
    tiny_config.speed.num_envs = 2
    tiny_config.run.timesteps = 800
    train(tiny_config, tmp_path)
    with (tmp_path / "progress.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    assert int(last["time/total_timesteps"]) == 800
    assert int(last["train/n_updates"]) == 800 - 100  # one gradient step per env step
    with (tmp_path / "episodes.csv").open() as handle:
        episodes = list(csv.DictReader(handle))
    assert len(episodes) == int(last["time/episodes"]) > 0
    assert {e["env"] for e in episodes} == {"0", "1"}  # random torques fall within ~300 steps
    assert all(math.isfinite(float(e["return"])) and int(e["length"]) > 0 for e in episodes)


def test_multi_task_run_logs_each_task(tiny_config, tmp_path: Path):
    tiny_config.environment.env = ["LowerT1GoaliePenaltyKick-v0", "LowerT1KickToTarget-v0"]
    tiny_config.run.timesteps = 400
    final = train(tiny_config, tmp_path)
    with (tmp_path / "progress.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    for task in tiny_config.environment.env:
        assert math.isfinite(float(last[f"rollout/{task}/ep_rew_mean"])), task
        assert float(last[f"rollout/{task}/ep_len_mean"]) > 0
    with (tmp_path / "episodes.csv").open() as handle:
        tasks_seen = {row["task"] for row in csv.DictReader(handle)}
    assert tasks_seen == set(tiny_config.environment.env)
    actor = load_actor(final / ACTOR_FILE)
    assert actor.obs_dim == FEATURE_SIZE


def test_evaluation_during_training_logs_scores_and_keeps_the_best(tiny_config, tmp_path: Path):
    tiny_config.run.eval_freq = 150
    tiny_config.run.eval_episodes = 1
    tiny_config.run.log_interval = 150
    train(tiny_config, tmp_path)
    with (tmp_path / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    steps = [int(r["time/total_timesteps"]) for r in rows]
    assert steps == sorted(set(steps))  # one row per step: evaluation joins the metrics row
    evaluated = [r for r in rows if r.get("eval/mean_score")]
    assert len(evaluated) == 2
    for row in evaluated:
        assert math.isfinite(float(row["eval/LowerT1GoaliePenaltyKick-v0/score"]))
        assert math.isfinite(float(row["eval/mean_reward"]))
    best = load_actor(tmp_path / "best" / ACTOR_FILE, expect_obs_dim=45, expect_act_dim=12)
    assert best.hidden == [64, 64]


def test_shaped_run_logs_each_term_and_the_env_reward(tiny_config, tmp_path: Path):
    tiny_config.environment.shaping = "default"
    tiny_config.speed.num_envs = 2  # episodes end in either env: their sums come from final_info
    tiny_config.run.timesteps = 800
    train(tiny_config, tmp_path)
    with (tmp_path / "episodes.csv").open() as handle:
        episodes = list(csv.DictReader(handle))
    assert {e["env"] for e in episodes} == {"0", "1"}, "random torques fall within 400 steps"
    for episode in episodes:
        terms = {key: float(v) for key, v in episode.items() if key.startswith("shaping/")}
        assert set(terms) == {f"shaping/{t}" for t in SHAPING_TERMS}
        # The shaped return is the env's plus every term: nothing hidden, nothing lost.
        assert float(episode["return"]) == pytest.approx(
            float(episode["env_return"]) + sum(terms.values()), rel=1e-4, abs=1e-4
        )
    with (tmp_path / "progress.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    assert math.isfinite(float(last["rollout/env_rew_mean"]))
    assert float(last["shaping/step"]) == 0.0  # off in the default set
    assert float(last["shaping/upright"]) > 0.0


def test_unshaped_run_still_logs_the_env_reward(tiny_config, tmp_path: Path):
    tiny_config.run.timesteps = 600
    train(tiny_config, tmp_path)
    with (tmp_path / "progress.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    assert float(last["rollout/env_rew_mean"]) == pytest.approx(float(last["rollout/ep_rew_mean"]))
    assert not [key for key in last if key.startswith("shaping/")]


def test_a_pd_run_counts_env_steps_and_evaluates_with_its_control(tmp_path: Path):
    config = TrainConfig(
        control="pd", decimation=10, timesteps=2000, learning_starts=500, log_interval=500,
        eval_freq=2000, eval_episodes=1, batch_size=32, actor_net=[64, 64],
        critic_net=[64, 64], device="cpu", checkpoint_freq=0,
    )  # fmt: skip
    final = train(config, tmp_path)
    with (tmp_path / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    # Rows in env steps: the first step at or past each 500 (a held action lasts 10, or less
    # when an episode ends inside it).
    steps = [int(r["time/total_timesteps"]) for r in rows]
    assert all(k * 500 <= s < k * 500 + 10 for k, s in enumerate(steps, 1)), steps
    # One update per transition, a transition being 10 env steps (fewer when an episode ends).
    assert 150 <= int(rows[-1]["train/n_updates"]) <= 170
    # The last evaluation is the final actor played through its PD control, as `evaluate`
    # plays it (the same actor's outputs read as torques fall otherwise).
    logged = float(rows[-1]["eval/LowerT1GoaliePenaltyKick-v0/ep_len_mean"])
    actor, (task,), spec = (
        load_actor(final / ACTOR_FILE),
        config.environment.env,
        config.environment.control_spec,
    )
    obs = config.environment.observation_mode
    assert evaluate_task(actor, obs, task, 1, seed=10_000, control=spec).length_mean == logged
    assert evaluate_task(actor, obs, task, 1, seed=10_000).length_mean != logged
    meta_control = __import__("json").loads(
        __import__("safetensors").safe_open(str(final / ACTOR_FILE), "pt").metadata()["control"]
    )
    assert meta_control["control"] == "pd" and meta_control["decimation"] == 10


def test_obs_norm_statistics_are_those_of_the_collected_observations(tmp_path: Path):
    """The buffer holds every observation acted on; the actor's statistics must be exactly
    their mean and variance, and evaluation must leave them as they were."""
    from safetensors.torch import load_file

    from soccer_td3.training.checkpoint import load_checkpoint

    config = TrainConfig(
        control="pd", decimation=2, obs_norm=True, obs_norm_clip=7.0, timesteps=600,
        learning_starts=200,
        log_interval=200, eval_freq=300, eval_episodes=1, batch_size=32,
        actor_net=[64, 64], critic_net=[64, 64], device="cpu", checkpoint_freq=600,
    )  # fmt: skip
    final = train(config, tmp_path)
    checkpoint = load_checkpoint(tmp_path)
    rows = checkpoint.buffer["rows"][: checkpoint.state["buffer_size"], :45].double().numpy()
    saved = load_file(str(final / ACTOR_FILE))
    np.testing.assert_allclose(saved["obs_norm.mean"].numpy(), rows.mean(0), atol=1e-9)
    np.testing.assert_allclose(saved["obs_norm.var"].numpy(), rows.var(0), rtol=1e-6, atol=1e-9)
    assert float(saved["obs_norm.count"]) == len(rows)
    assert float(saved["obs_norm.clip"]) == 7.0
    for name in ("actor", "critic", "actor_target", "critic_target"):
        assert torch.equal(checkpoint.nets[f"{name}.obs_norm.mean"], saved["obs_norm.mean"])
    actor = load_actor(final / ACTOR_FILE)
    from soccer_td3.training.evaluation import evaluate_task

    evaluate_task(
        actor, "raw", "LowerT1GoaliePenaltyKick-v0", 1, control=config.environment.control_spec
    )
    assert torch.equal(actor.obs_norm.mean, saved["obs_norm.mean"])  # frozen in evaluation


def _buffer_actions(run_dir: Path, obs_dim: int) -> np.ndarray:
    from soccer_td3.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(run_dir)
    rows = checkpoint.buffer["rows"][: checkpoint.state["buffer_size"]]
    return rows[:, obs_dim : obs_dim + 12].numpy()


@pytest.mark.parametrize("warmup", ["random", "policy"])
def test_warmup_policy_collects_the_initial_actor_and_random_collects_uniform(
    warmup, tmp_path: Path
):
    """Before learning_starts: uniform actions, or the initial actor (acting near zero under
    actor_last_layer_init) plus its exploration noise."""
    config = TrainConfig(
        control="pd", decimation=2, warmup=warmup, actor_last_layer_init=1e-6,
        exploration_noise=0.01, timesteps=300, learning_starts=300, log_interval=300,
        batch_size=32, actor_net=[64, 64], critic_net=[64, 64], device="cpu",
        checkpoint_freq=300,
    )  # fmt: skip
    train(config, tmp_path)
    actions = _buffer_actions(tmp_path, 45)
    if warmup == "policy":
        assert np.abs(actions).max() < 0.06  # noise of std 0.01 around a near-zero actor
    else:
        assert np.abs(actions).max() > 0.9 and abs(actions.mean()) < 0.1


def test_critic_warmup_holds_the_actor_still_while_the_critic_and_targets_learn(tmp_path):
    from soccer_td3.training.checkpoint import load_checkpoint

    def run(critic_warmup: int, folder: Path, timesteps: int = 300):
        config = TrainConfig(
            timesteps=timesteps, learning_starts=100, critic_warmup=critic_warmup,
            log_interval=100, batch_size=32, actor_net=[64, 64], critic_net=[64, 64],
            device="cpu", checkpoint_freq=timesteps,
        )  # fmt: skip
        train(config, folder)
        nets = load_checkpoint(folder).nets
        moved = {
            name: any(
                not torch.equal(nets[key], nets[key.replace(name, f"{name}_target", 1)])
                for key in nets
                if key.startswith(f"{name}.")
            )
            for name in ("actor", "critic")
        }
        with (folder / "progress.csv").open() as handle:
            last = list(csv.DictReader(handle))[-1]
        return moved, last, nets

    held, last, held_nets = run(critic_warmup=1000, folder=tmp_path / "held")
    # The actor equals its untouched target (both still the initial weights), the critic has
    # left its target behind, and no actor loss was ever computed.
    assert held == {"actor": False, "critic": True}
    assert last["train/critic_loss"] and not last.get("train/actor_loss")
    _, _, initial = run(critic_warmup=1000, folder=tmp_path / "untrained", timesteps=100)
    assert any(  # the critic's targets followed it (polyak) while the actor waited
        not torch.equal(held_nets[key], initial[key])
        for key in initial
        if key.startswith("critic_target.")
    )
    free, last, _ = run(critic_warmup=0, folder=tmp_path / "free")
    assert free == {"actor": True, "critic": True} and last["train/actor_loss"]


def _rows(run: Path) -> list[dict]:
    with (run / "progress.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_max_minutes_stops_on_time_with_a_last_evaluation_and_the_final_model(tmp_path: Path):
    config = tiny(timesteps=1_000_000, max_minutes=0.1, eval_freq=500_000, eval_episodes=1)
    final = train(config, tmp_path)

    rows = _rows(tmp_path)
    last = rows[-1]
    assert 0 < int(last["time/total_timesteps"]) < config.run.timesteps
    assert 6.0 <= float(last["time/time_elapsed"]) < 60.0
    assert last["eval/mean_score"]  # the stop's own evaluation, at the stopping step
    assert [r for r in rows if r["eval/mean_score"]] == [last]
    assert (final / ACTOR_FILE).is_file()


def test_max_minutes_counts_the_time_of_the_run_before_a_resume(tmp_path: Path):
    train(tiny(checkpoint_freq=300), tmp_path)
    checkpoint = load_checkpoint(tmp_path)
    spent = checkpoint.state["time_elapsed"]
    assert checkpoint.state["step"] == 300 and spent > 0.5
    # A budget just under the first process's own time: counted alone, the resumed process
    # would still train for most of it; counted together, it has nothing left.
    budget = tiny(timesteps=1_000_000, checkpoint_freq=300, max_minutes=0.9 * spent / 60)
    train(budget, tmp_path, resume=checkpoint)
    assert int(_rows(tmp_path)[-1]["time/total_timesteps"]) == 300


def test_a_soccer_run_trains_over_commands_in_two_processes_and_records_its_control(
    tmp_path: Path, monkeypatch
):
    """The soccer preset, shortened: transitions of 50 env steps, both envs stepped in their
    own processes (--async-envs reaches the vector env), evaluation through command control,
    and the weights recording the command range and prior that export rebuilds."""
    from soccer_td3.config import build_config
    from soccer_td3.training import loop

    built = []

    def spy(*args, **kwargs):
        envs, tasks = make_vector_env(*args, **kwargs)
        built.append(type(envs).__name__)
        return envs, tasks

    from soccer_td3.envs.vector import make_vector_env

    monkeypatch.setattr(loop, "make_vector_env", spy)
    config = build_config(
        "soccer",
        overrides=dict(
            timesteps=3000, learning_starts=1000, log_interval=1000, eval_freq=3000,
            eval_episodes=1, batch_size=32, actor_net=[32, 32], critic_net=[32, 32],
            device="cpu", checkpoint_freq=0, prior="chaser", max_minutes=None,
        ),
    )  # fmt: skip
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    final = train(config, tmp_path)
    assert built == ["AsyncVectorEnv"]
    assert torch.get_num_threads() == 1  # the learner beside its env processes: one thread
    with (tmp_path / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    # Two envs, one transition each per vector step: 100 env steps a vector step.
    assert [int(r["time/total_timesteps"]) for r in rows] == [1000, 2000, 3000]
    # 2 gradient steps per transition, 2 transitions per vector step, 20 vector steps after 1000.
    assert 2 * 2 * 20 - 4 <= int(rows[-1]["train/n_updates"]) <= 2 * 2 * 20
    # Evaluated through command control: episodes end on the ball or run to truncation.
    assert math.isfinite(float(rows[-1]["eval/LowerT1GoaliePenaltyKick-v0/score"]))
    assert 0 < float(rows[-1]["eval/LowerT1GoaliePenaltyKick-v0/ep_len_mean"]) <= 5000
    meta = __import__("json").loads(
        __import__("safetensors").safe_open(str(final / ACTOR_FILE), "pt").metadata()["control"]
    )
    assert meta["control"] == "command" and meta["prior"] == "chaser"
    assert meta["decimation"] == 50 and meta["command_high"] == [1.0, 0.5, 1.0]
    assert load_actor(final / ACTOR_FILE).act_dim == 3
