"""collect -> store -> update -> log: the training loop, in one function a reader can follow.

Semantics follow stable-baselines3's TD3 so figures compare: `learning_starts` steps of uniform
random actions, then the actor plus Gaussian exploration noise on the normalised action;
`gradient_steps` updates every `train_freq` env steps; episode statistics over the last 100
episodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from soccer_td3.agent.networks import Actor, TwinCritic
from soccer_td3.agent.pretrained import PretrainedWeights, read_pretrained
from soccer_td3.agent.replay import ReplayBuffer
from soccer_td3.agent.td3 import TD3Learner
from soccer_td3.agent.weights import save_weights
from soccer_td3.config import TrainConfig
from soccer_td3.cores import ThreadGovernor, use_available_cores
from soccer_td3.envs.vector import final_infos, make_vector_env, true_next_obs
from soccer_td3.errors import UserError
from soccer_td3.reports.evaluate import evaluate_task
from soccer_td3.training.checkpoint import Checkpoint, restore, save_checkpoint
from soccer_td3.training.metrics import MetricsLogger
from soccer_td3.training.redflags import RedFlag, RedFlagMonitor
from soccer_td3.training.settings import (
    build_learner,
    learner_settings,
    precision_warning,
    resolve_cpu_matmul,
    resolve_device,
)
from soccer_td3.training.signals import RedFlagStop, StopOnSignal, TrainingInterrupted
from soccer_td3.training.stats import EpisodeStats, LossAccumulator


def report_red_flag(flag: RedFlag, console: Console, logger: MetricsLogger, run_dir: Path) -> None:
    console.print(f"[bold red]{escape(flag.line())}[/]")  # the line holds [name]
    with (run_dir / "redflags.log").open("a") as handle:
        handle.write(flag.line() + "\n")
    logger.tensorboard.add_text(f"redflags/{flag.name}", flag.line(), flag.step)


def next_multiple(step: int, every: int) -> int:
    """The first multiple of `every` after `step`: when a periodic action is next due."""
    return (step // every + 1) * every


@torch.inference_mode()
def noisy_action(learner: TD3Learner, obs: torch.Tensor, sigma: float) -> torch.Tensor:
    """The policy's normalised action plus Gaussian exploration noise, kept in [-1, 1]."""
    action = learner.actor(obs)
    return (action + sigma * torch.randn_like(action)).clamp(-1.0, 1.0)


def template_networks(config: TrainConfig) -> tuple[Actor, TwinCritic]:
    """Freshly built CPU networks of the config's shapes, to check files against."""
    bound = np.ones(config.action_size)
    actor = Actor(
        config.observation_size,
        config.action_size,
        config.actor_net,
        -bound,
        bound,
        config.activation,
    )
    critic = TwinCritic(
        config.observation_size, config.action_size, config.critic_net, config.activation
    )
    return actor, critic


def load_init_weights(config: TrainConfig) -> PretrainedWeights | None:
    """The --init-from weights, checked against this config's networks (raises UserError)."""
    if config.init_from is None:
        return None
    return read_pretrained(Path(config.init_from), *template_networks(config))


def apply_init_weights(learner: TD3Learner, init: PretrainedWeights) -> str:
    bounds = {"action_scale": learner.actor.action_scale, "action_bias": learner.actor.action_bias}
    learner.actor.load_state_dict({**init.actor, **bounds})
    learner.actor_target.load_state_dict({**init.actor, **bounds})
    if init.critic is None:
        return f"actor initialised from {init.source} (it holds no critic: critics start fresh)"
    learner.critic.load_state_dict(init.critic)
    learner.critic_target.load_state_dict(init.critic)
    return f"actor and critics initialised from {init.source}"


def save_policy(folder: Path, learner: TD3Learner, config: TrainConfig) -> None:
    meta = {"tasks": config.env, "obs": config.observation_mode}
    save_weights(folder, learner.actor, learner.critic, meta)


def evaluate_during_training(learner: TD3Learner, config: TrainConfig) -> dict[str, float]:
    """Deterministic episodes on every task, as `soccer-td3 evaluate` plays them."""
    results = [
        evaluate_task(
            learner.actor,
            config.observation_mode,
            task,
            config.eval_episodes,
            seed=config.seed + 10_000,
        )
        for task in config.env
    ]
    row = {
        "eval/mean_reward": float(np.mean([r.return_mean for r in results])),
        "eval/mean_score": float(np.mean([r.score_mean for r in results])),
    }
    for r in results:
        row |= {
            f"eval/{r.task}/score": r.score_mean,
            f"eval/{r.task}/mean_reward": r.return_mean,
            f"eval/{r.task}/success_rate": r.success_rate,
            f"eval/{r.task}/ep_len_mean": r.length_mean,
        }
    return row


def train(
    config: TrainConfig,
    run_dir: Path,
    use_wandb: bool = False,
    console: Console | None = None,
    init: PretrainedWeights | None = None,
    resume: Checkpoint | None = None,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Train as configured, writing metrics and final weights into `run_dir`; returns final/.

    With `resume`, continue that checkpoint's run exactly: weights, optimiser moments, buffer,
    counters and RNG states come back; the envs start new episodes. `on_eval(step, row)` sees
    each evaluation's eval/* row as it is made: the tuner reports it to Optuna, whose pruning
    exception ends the run from inside (logs and envs still close).
    """
    console = console or Console(stderr=True)
    init = init or load_init_weights(config)
    device = resolve_device(config.device)
    use_available_cores()
    config, matmul_line = resolve_cpu_matmul(config)  # the CLI resolves first, for config.yaml
    for line in (matmul_line, precision_warning(config)):
        if line:
            console.print(escape(line))
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    envs, env_tasks = make_vector_env(
        config.env,
        config.num_envs,
        config.seed,
        config.observation_mode,
        # No wrapper (and nothing added to each env step) when every weight is 0.
        shaping=config.shaping if config.shaping.active else None,
        gamma=config.gamma,
    )
    obs_dim = envs.single_observation_space.shape[0]
    act_dim = envs.single_action_space.shape[0]
    low, high = envs.single_action_space.low, envs.single_action_space.high
    learner = build_learner(config, obs_dim, act_dim, low, high, device)
    if init is not None:
        console.print(apply_init_weights(learner, init))
    # Never more transitions than steps: a short run need not preallocate a 1M-row buffer.
    capacity = min(config.buffer_size, config.timesteps)
    buffer = ReplayBuffer(capacity, obs_dim, act_dim, device)
    num_envs = envs.num_envs
    stats = EpisodeStats.empty()
    per_task = {task: EpisodeStats.empty() for task in config.env} if len(config.env) > 1 else {}
    step = 0
    next_eval = config.eval_freq or None
    next_checkpoint = config.checkpoint_freq or None
    best_score = -float("inf")
    untrained_steps = 0  # env steps not yet matched by a training round (keeps the UTD ratio)
    next_log = config.log_interval
    elapsed_before = 0.0
    if resume is not None:
        restore(resume, learner, buffer)
        state = resume.state
        step, next_log, untrained_steps = state["step"], state["next_log"], state["untrained_steps"]
        next_eval, next_checkpoint = state["next_eval"], state["next_checkpoint"]
        best_score, elapsed_before = state["best_score"], state["time_elapsed"]
        rng.bit_generator.state = state["numpy_rng"]
        stats = EpisodeStats.from_dict(state["stats"])
        per_task = {t: EpisodeStats.from_dict(d) for t, d in state["per_task"].items()}
        console.print(f"resumed {resume.path} at step {step}; the envs start new episodes")
    logger = MetricsLogger(
        run_dir, use_wandb, config.model_dump(), resume_step=step if resume else None
    )

    def counters() -> dict:
        return {
            "next_log": next_log,
            "untrained_steps": untrained_steps,
            "next_eval": next_eval,
            "next_checkpoint": next_checkpoint,
            "best_score": best_score,
            "time_elapsed": elapsed_before + time.perf_counter() - start_time,
            "numpy_rng": rng.bit_generator.state,
            "stats": stats.to_dict(),
            "per_task": {t: st.to_dict() for t, st in per_task.items()},
            "tasks": config.env,
            "obs": config.observation_mode,
        }

    losses = LossAccumulator()
    episode_return = np.zeros(num_envs)
    episode_length = np.zeros(num_envs, dtype=np.int64)
    obs, _ = envs.reset(seed=config.seed + step)
    start_time, start_step = time.perf_counter(), step
    pending_eval: dict[str, float] = {}
    stop = StopOnSignal()
    threads = ThreadGovernor()
    redflags = RedFlagMonitor(
        learner_settings(config).redflags,
        config.learning_starts,
        cpu_with_cuda_available=device.type == "cpu" and torch.cuda.is_available(),
    )

    progress = Progress(
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=False,
    )
    bar = progress.add_task("train", total=config.timesteps, status="")
    try:
        with progress, stop:
            while step < config.timesteps:
                obs_t = torch.as_tensor(obs, dtype=torch.float32).to(device)  # one crossing
                if step < config.learning_starts:
                    uniform = rng.uniform(-1.0, 1.0, (num_envs, act_dim))
                    action = torch.as_tensor(uniform, dtype=torch.float32).to(device)
                else:
                    action = noisy_action(learner, obs_t, config.exploration_noise)
                env_action = learner.actor.to_env_units(action).cpu().numpy()

                next_obs, reward, terminated, truncated, infos = envs.step(env_action)
                ended = terminated | truncated
                buffer.add(obs_t, action, reward, true_next_obs(next_obs, infos, ended), terminated)

                episode_return += reward
                episode_length += 1
                for i, info in zip(np.flatnonzero(ended), final_infos(infos, ended), strict=True):
                    episode = {"return": float(episode_return[i]), "length": int(episode_length[i])}
                    if "success" in info:
                        episode["success"] = float(bool(info["success"]))
                    if config.shaping.active:
                        episode["env_return"] = float(info["episode_env_return"])
                        for term, total in info["episode_shaping"].items():
                            episode[f"shaping/{term}"] = float(total)
                    else:  # unshaped: the return is the env's own
                        episode["env_return"] = episode["return"]
                    stats.add(episode)
                    if per_task:
                        per_task[env_tasks[i]].add(episode)
                    logger.record_episode(step + num_envs, int(i), env_tasks[i], episode)
                    episode_return[i], episode_length[i] = 0.0, 0
                obs = next_obs
                step += num_envs
                if (line := threads.poll()) is not None:
                    console.print(line)

                if step > config.learning_starts:
                    # gradient_steps every train_freq env steps, whatever the number of envs.
                    untrained_steps += num_envs
                    while untrained_steps >= config.train_freq:
                        untrained_steps -= config.train_freq
                        for _ in range(config.gradient_steps):
                            losses.add(learner.update(buffer.sample(config.batch_size)))

                if next_eval is not None and step >= next_eval:
                    next_eval = next_multiple(step, config.eval_freq)
                    evaluation = evaluate_during_training(learner, config)
                    pending_eval |= evaluation  # goes out with the next metrics row
                    if evaluation["eval/mean_score"] > best_score:
                        best_score = evaluation["eval/mean_score"]
                        save_policy(run_dir / "best", learner, config)
                    if on_eval is not None:
                        on_eval(step, evaluation)

                # An evaluation is written at its own step, not held for the next row: a
                # curve's points then sit where they were measured and none is lost to Ctrl-C.
                if step >= next_log or step >= config.timesteps or pending_eval:
                    elapsed = time.perf_counter() - start_time
                    fps = (step - start_step) / elapsed
                    row = stats.metrics()
                    for task, task_stats in per_task.items():
                        row |= task_stats.metrics(f"rollout/{task}")
                    row |= {
                        **losses.drain(),
                        "time/fps": fps,
                        "time/time_elapsed": elapsed_before + elapsed,
                        "time/episodes": stats.count,
                        "train/n_updates": learner.n_updates,
                        **pending_eval,
                    }
                    pending_eval.clear()
                    for flag in redflags.check(step, row):
                        report_red_flag(flag, console, logger, run_dir)
                        if flag.name == "non_finite":  # no checkpoint: the weights are gone
                            raise UserError(
                                f"{flag.message} by step {step}; training stopped (checkpoints "
                                f"in {run_dir / 'checkpoints'} are from before). The seed's "
                                f"advice: {flag.remedy}"
                            )
                        if config.strict_redflags and flag.stops_when_strict:
                            save_checkpoint(
                                run_dir, step, learner, buffer, counters(), config.keep_checkpoints
                            )
                            raise RedFlagStop(flag.line())
                    logger.record(step, row)
                    next_log = next_multiple(step, config.log_interval)
                    rew = row.get("rollout/ep_rew_mean")
                    status = f"{fps:6.0f} steps/s" + (
                        f"  ep_rew_mean {rew:8.2f}" if rew is not None else ""
                    )
                    progress.update(bar, completed=step, status=status)
                elif step % 100 < num_envs:
                    progress.update(bar, completed=step)

                due = next_checkpoint is not None and step >= next_checkpoint
                if due or stop.requested:
                    if due:
                        next_checkpoint = next_multiple(step, config.checkpoint_freq)
                    saved = save_checkpoint(
                        run_dir, step, learner, buffer, counters(), config.keep_checkpoints
                    )
                    if stop.requested:
                        raise TrainingInterrupted(step, saved)
    finally:
        logger.close()
        envs.close()

    final_dir = run_dir / "final"
    save_policy(final_dir, learner, config)
    return final_dir
