"""The training loop, in named steps: act, train (while the envs play the actions), collect,
record finished episodes, evaluate when due, log, checkpoint. Its counters are one TrainState,
what checkpoints hold.

Semantics follow stable-baselines3's TD3 so figures compare: `learning_starts` steps of uniform
random actions, then the actor plus Gaussian exploration noise on the normalised action;
`gradient_steps` updates every `train_freq` env steps, on a buffer that holds every transition
so far; episode statistics over the last 100 episodes. One difference, for speed: a step's
updates run while the envs play the next step, whose actions are chosen just before them (with
async_envs the physics then runs on the other cores while the learner trains).
"""

from __future__ import annotations

import contextlib
import sys
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
from soccer_td3.envs.vector import env_steps_taken, final_infos, make_vector_env, true_next_obs
from soccer_td3.errors import UserError
from soccer_td3.training.checkpoint import (
    Checkpoint,
    abandon_unfinished,
    restore,
    save_checkpoint,
)
from soccer_td3.training.evaluation import evaluate_task
from soccer_td3.training.metrics import TIME_KEY, MetricsLogger
from soccer_td3.training.redflags import RedFlag, RedFlagMonitor
from soccer_td3.training.settings import (
    build_learner,
    learner_settings,
    precision_warning,
    resolve_device,
)
from soccer_td3.training.signals import (
    EvaluationInterrupted,
    RedFlagStop,
    StopOnSignal,
    TrainingInterrupted,
)
from soccer_td3.training.state import TrainState
from soccer_td3.training.stats import LossAccumulator


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
    bound = np.ones(config.environment.action_size)
    clip = config.networks.obs_norm_clip if config.networks.obs_norm else None
    actor = Actor(
        config.environment.observation_size,
        config.environment.action_size,
        config.networks.actor_net,
        -bound,
        bound,
        config.networks.activation,
        clip,
    )
    critic = TwinCritic(
        config.environment.observation_size,
        config.environment.action_size,
        config.networks.critic_net,
        config.networks.activation,
        clip,
    )
    return actor, critic


def load_init_weights(config: TrainConfig) -> PretrainedWeights | None:
    """The --init-from weights, checked against this config's networks (raises UserError)."""
    if config.networks.init_from is None:
        return None
    return read_pretrained(Path(config.networks.init_from), *template_networks(config))


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
    meta = {
        "tasks": config.environment.env,
        "obs": config.environment.observation_mode,
        "control": config.environment.control_spec.as_dict(),
    }
    save_weights(folder, learner.actor, learner.critic, meta)


def evaluate_during_training(learner: TD3Learner, config: TrainConfig) -> dict[str, float]:
    """Deterministic episodes on every task, as `soccer-td3 evaluate` plays them."""
    results = [
        evaluate_task(
            learner.actor,
            config.environment.observation_mode,
            task,
            config.run.eval_episodes,
            seed=config.run.seed + 10_000,
            control=config.environment.control_spec,
        )
        for task in config.environment.env
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


class TrainingRun:
    """One run's moving parts, and the steps of one loop iteration, each a method."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: Path,
        console: Console,
        learner: TD3Learner,
        envs,
        env_tasks: list[str],
        buffer: ReplayBuffer,
        state: TrainState,
        rng: np.random.Generator,
        logger: MetricsLogger,
        on_eval: Callable[[int, dict[str, float]], None] | None,
    ) -> None:
        self.config, self.run_dir, self.console = config, run_dir, console
        self.learner, self.envs, self.env_tasks, self.buffer = learner, envs, env_tasks, buffer
        self.state, self.rng, self.logger, self.on_eval = state, rng, logger, on_eval
        self.device = learner.actor.action_scale.device
        self.num_envs = envs.num_envs
        self.episode_return = np.zeros(self.num_envs)
        self.episode_length = np.zeros(self.num_envs, dtype=np.int64)
        self.losses = LossAccumulator()
        # What an evaluation runs inside; train() makes it the signal handler's section in
        # which a Ctrl-C abandons the evaluation at once (training/signals.py).
        self.interruptible: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
        self.pending_eval: dict[str, float] = {}
        self.sent: tuple[torch.Tensor, torch.Tensor] | None = None  # act()'s, for collect()
        self.redflags = RedFlagMonitor(
            learner_settings(config).redflags,
            config.td3.learning_starts,
            cpu_with_cuda_available=self.device.type == "cpu" and torch.cuda.is_available(),
        )
        self.obs, _ = envs.reset(seed=config.run.seed + state.step)
        self.start_time, self.start_step = time.perf_counter(), state.step

    def elapsed(self) -> float:
        return time.perf_counter() - self.start_time

    def act(self) -> None:
        """Choose this step's actions (random until learning_starts unless warmup is policy,
        then the noisy policy) and send them to the envs. The envs play them until collect():
        with async_envs in processes of their own, so the updates run in between (train)
        overlap the physics instead of waiting for it."""
        config, num_envs = self.config, self.num_envs
        obs_t = torch.as_tensor(self.obs, dtype=torch.float32).to(self.device)  # one crossing
        self.learner.observe(obs_t)  # obs_norm: statistics of what is collected, nothing else
        if self.state.step < config.td3.learning_starts and config.td3.warmup == "random":
            uniform = self.rng.uniform(-1.0, 1.0, (num_envs, self.learner.actor.act_dim))
            action = torch.as_tensor(uniform, dtype=torch.float32).to(self.device)
        else:
            action = noisy_action(self.learner, obs_t, config.td3.exploration_noise)
        self.sent = (obs_t, action)
        self.envs.step_async(self.learner.actor.to_env_units(action).cpu().numpy())

    def collect(self) -> tuple[np.ndarray, np.ndarray, dict, np.ndarray]:
        """The envs' answer to act(): the transition goes into the buffer, and once past
        learning_starts its env steps count towards training (train). Returns rewards, ended
        flags, the step's infos and each env's env steps."""
        assert self.sent is not None, "collect() answers an act()"
        obs_t, action = self.sent
        next_obs, reward, terminated, truncated, infos = self.envs.step_wait()
        ended = terminated | truncated
        self.buffer.add(obs_t, action, reward, true_next_obs(next_obs, infos, ended), terminated)
        self.obs = next_obs
        env_steps = env_steps_taken(infos, ended)  # > 1 per transition with decimation
        self.state.step += int(env_steps.sum())
        if self.state.step > self.config.td3.learning_starts:
            self.state.untrained_steps += self.num_envs
        return reward, ended, infos, env_steps

    def record_finished_episodes(
        self, reward: np.ndarray, ended: np.ndarray, infos: dict, env_steps: np.ndarray
    ) -> None:
        """Episode sums per env, lengths in env steps. (gymnasium's RecordEpisodeStatistics
        assumes NEXT_STEP autoreset and would drop each episode's first reward under our
        SAME_STEP mode, and it counts transitions, not env steps.)"""
        self.episode_return += reward
        self.episode_length += env_steps
        state = self.state
        for i, info in zip(np.flatnonzero(ended), final_infos(infos, ended), strict=True):
            episode = {
                "return": float(self.episode_return[i]),
                "length": int(self.episode_length[i]),
            }
            if "success" in info:
                episode["success"] = float(bool(info["success"]))
            if self.config.environment.shaping.active:
                episode["env_return"] = float(info["episode_env_return"])
                for term, total in info["episode_shaping"].items():
                    episode[f"shaping/{term}"] = float(total)
            else:  # unshaped: the return is the env's own
                episode["env_return"] = episode["return"]
            state.stats.add(episode)
            if state.per_task:
                state.per_task[self.env_tasks[i]].add(episode)
            self.logger.record_episode(state.step, int(i), self.env_tasks[i], episode)
            self.episode_return[i], self.episode_length[i] = 0.0, 0

    def train(self) -> None:
        """gradient_steps updates for every train_freq transitions collected and not yet
        trained on, whatever the number of envs (a transition is one env step, or
        `decimation` of them). The loop calls it between act() and collect(), so a step's
        updates run while the envs play the next one; the actions of that next step are the
        only thing chosen before them (SB3 would choose them after). Calling it again does
        nothing: what it owes is counted in the checkpointed state, not in the calls."""
        config, state = self.config, self.state
        actor_learns = state.step > config.td3.learning_starts + config.td3.critic_warmup
        while state.untrained_steps >= config.td3.train_freq:
            state.untrained_steps -= config.td3.train_freq
            for _ in range(config.td3.gradient_steps):
                batch = self.buffer.sample(config.td3.batch_size)
                self.losses.add(self.learner.update(batch, actor_learns))

    def out_of_time(self) -> bool:
        """The wall-clock budget (`max_minutes`) is spent, this process's time and earlier
        ones' (a resume) together."""
        budget = self.config.run.max_minutes
        return budget is not None and self.state.time_elapsed + self.elapsed() >= budget * 60

    def evaluate_when_due(self) -> None:
        config, state = self.config, self.state
        if state.next_eval is None or state.step < state.next_eval:
            return
        state.next_eval = next_multiple(state.step, config.run.eval_freq)
        self.evaluate()

    def stop_on_time(self) -> None:
        """A run stopped by its time budget says so, with or without evaluations, and ends on
        an evaluation of its last weights, as a run whose timesteps are a multiple of eval_freq
        does: its final figure is its own."""
        if self.config.run.eval_freq and self.state.last_eval_step != self.state.step:
            self.evaluate()
            self.log_when_due()
        self.console.print(
            f"max_minutes {self.config.run.max_minutes:g} reached at step {self.state.step} of "
            f"{self.config.run.timesteps}: stopped"
        )

    def evaluate(self) -> None:
        config, state = self.config, self.state
        try:
            with self.interruptible():
                evaluation = evaluate_during_training(self.learner, config)
        except EvaluationInterrupted:  # Ctrl-C: the stop's checkpoint comes next
            state.next_eval = state.step  # a resumed run evaluates here first
            return
        state.last_eval_step = state.step
        self.pending_eval |= evaluation  # goes out in a row of its own step (log_when_due)
        if evaluation["eval/mean_score"] > state.best_score:
            state.best_score = evaluation["eval/mean_score"]
            save_policy(self.run_dir / "best", self.learner, config)
        if self.on_eval is not None:
            self.on_eval(state.step, evaluation)

    def log_when_due(self) -> str | None:
        """A metrics row when due (or when an evaluation waits: a curve's points then sit where
        they were measured and none is lost to Ctrl-C); the red flags read it. Returns the
        progress bar's status when a row was written."""
        config, state = self.config, self.state
        if not (
            state.step >= state.next_log or state.step >= config.run.timesteps or self.pending_eval
        ):
            return None
        elapsed = self.elapsed()
        fps = (state.step - self.start_step) / elapsed
        row = state.stats.metrics()
        for task, task_stats in state.per_task.items():
            row |= task_stats.metrics(f"rollout/{task}")
        row |= {
            **self.losses.drain(),
            "time/fps": fps,
            TIME_KEY: state.time_elapsed + elapsed,
            "time/episodes": state.stats.count,
            "train/n_updates": self.learner.n_updates,
            **self.pending_eval,
        }
        self.pending_eval.clear()
        for flag in self.redflags.check(state.step, row):
            self.react_to(flag)
        self.logger.record(state.step, row)
        state.next_log = next_multiple(state.step, config.run.log_interval)
        rew = row.get("rollout/ep_rew_mean")
        return f"{fps:6.0f} steps/s" + (f"  ep_rew_mean {rew:8.2f}" if rew is not None else "")

    def react_to(self, flag: RedFlag) -> None:
        report_red_flag(flag, self.console, self.logger, self.run_dir)
        if flag.name == "non_finite":  # no checkpoint: the weights are gone
            raise UserError(
                f"{flag.message} by step {self.state.step}; training stopped (checkpoints in "
                f"{self.run_dir / 'checkpoints'} are from before). The seed's advice: "
                f"{flag.remedy}"
            )
        if self.config.run.strict_redflags and flag.stops_when_strict:
            self.checkpoint()
            raise RedFlagStop(flag.line())

    def checkpoint(self) -> Path:
        counters = self.state.to_checkpoint(self.elapsed()) | {
            "numpy_rng": self.rng.bit_generator.state,
            "tasks": self.config.environment.env,
            "obs": self.config.environment.observation_mode,
        }
        return save_checkpoint(
            self.run_dir,
            self.state.step,
            self.learner,
            self.buffer,
            counters,
            self.config.run.keep_checkpoints,
        )

    def checkpoint_when_due(self, stop_requested: bool) -> None:
        state = self.state
        due = state.next_checkpoint is not None and state.step >= state.next_checkpoint
        if not (due or stop_requested):
            return
        if due:
            state.next_checkpoint = next_multiple(state.step, self.config.run.checkpoint_freq)
        saved = self.checkpoint()
        if stop_requested:
            raise TrainingInterrupted(state.step, saved)


def abort_message(run_dir: Path) -> None:
    """A second Ctrl-C: no half-written checkpoint left behind, and one line on what is kept."""
    note = abandon_unfinished(run_dir)
    sys.stderr.write(f"soccer-td3: stopped at once (second interrupt); {note}\n")
    sys.stderr.flush()


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
    device = resolve_device(config.speed.device)
    use_available_cores(envs_in_processes=config.speed.async_envs)
    warning = precision_warning(config)
    if warning:
        console.print(escape(warning))
    torch.manual_seed(config.run.seed)
    rng = np.random.default_rng(config.run.seed)

    envs, env_tasks = make_vector_env(
        config.environment.env,
        config.speed.num_envs,
        config.run.seed,
        config.environment.observation_mode,
        # No wrapper (and nothing added to each env step) when every weight is 0.
        shaping=config.environment.shaping if config.environment.shaping.active else None,
        gamma=config.td3.gamma,
        control=config.environment.control_spec,
        asynchronous=config.speed.async_envs,
    )
    obs_dim = envs.single_observation_space.shape[0]
    act_dim = envs.single_action_space.shape[0]
    low, high = envs.single_action_space.low, envs.single_action_space.high
    learner = build_learner(config, obs_dim, act_dim, low, high, device)
    if init is not None:
        console.print(apply_init_weights(learner, init))
    # Never more transitions than steps: a short run need not preallocate a 1M-row buffer.
    buffer = ReplayBuffer(
        min(config.td3.buffer_size, config.run.timesteps), obs_dim, act_dim, device
    )
    state = TrainState.fresh(config)
    if resume is not None:
        restore(resume, learner, buffer)
        state = TrainState.from_checkpoint(resume.state)
        rng.bit_generator.state = resume.state["numpy_rng"]
        console.print(f"resumed {resume.path} at step {state.step}; the envs start new episodes")
    logger = MetricsLogger(
        run_dir, use_wandb, config.model_dump(), resume_step=state.step if resume else None
    )
    for note in logger.notes:
        console.print(escape(note))
    run = TrainingRun(
        config, run_dir, console, learner, envs, env_tasks, buffer, state, rng, logger, on_eval
    )
    threads = ThreadGovernor(envs_in_processes=config.speed.async_envs)
    progress = Progress(
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=False,
    )
    bar = progress.add_task("train", total=config.run.timesteps, status="")
    stop = StopOnSignal(on_abort=lambda: abort_message(run_dir))
    run.interruptible = stop.interruptible_section
    try:
        with progress, stop:
            while state.step < config.run.timesteps and not run.out_of_time():
                run.act()
                run.train()  # the last step's updates, while the envs play this one
                run.record_finished_episodes(*run.collect())
                if (line := threads.poll()) is not None:
                    console.print(line)
                if state.step >= config.run.timesteps:
                    run.train()  # no next step to overlap: the last evaluation sees them all
                run.evaluate_when_due()
                if (status := run.log_when_due()) is not None:
                    progress.update(bar, completed=state.step, status=status)
                elif state.step % 100 < run.num_envs * config.environment.decimation:
                    progress.update(bar, completed=state.step)
                run.checkpoint_when_due(stop.requested)
            if state.step < config.run.timesteps:
                run.train()
                run.stop_on_time()
    finally:
        logger.close()
        envs.close()

    final_dir = run_dir / "final"
    save_policy(final_dir, learner, config)
    return final_dir
