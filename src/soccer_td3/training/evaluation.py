"""Episodes of a policy on a task, scored as the competition scores them.

Here, not in reports/, because training evaluates as it goes: data flows config -> envs ->
agent -> training -> reports -> cli, and nothing below reports imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from soccer_td3.agent.networks import Actor
from soccer_td3.envs.build import make_task_env
from soccer_td3.envs.control import ControlSpec
from soccer_td3.envs.observation import FEATURE_SIZE
from soccer_td3.envs.registry import task_spec
from soccer_td3.envs.score import competition_score
from soccer_td3.errors import UserError

# The goalie task resets to the same state whatever the seed (measured: identical first
# observations for seeds 0..9), so a deterministic policy replays one episode N times.
SAME_START_TASKS = {"LowerT1GoaliePenaltyKick-v0"}
ACTOR_PATH = "soccer_td3 actor (weights file, obs wrapper, tanh rescaled to the bounds)"

# (obs, info) -> the action the env steps with, in the env's units.
Policy = Callable[[np.ndarray, dict], np.ndarray]


@dataclass
class TaskResult:
    task: str
    episodes: int
    return_mean: float
    return_std: float
    length_mean: float
    success_rate: float
    score_mean: float
    score_std: float
    noise: float
    independent_episodes: bool
    path: str = ACTOR_PATH


@torch.inference_mode()
def policy_action(
    actor: Actor, obs: np.ndarray, noise: float = 0.0, rng: np.random.Generator | None = None
) -> np.ndarray:
    """The actor's action for one observation, in the env's units; optional Gaussian noise on
    the normalised action (kept in [-1, 1])."""
    device = actor.action_scale.device
    action = actor(torch.as_tensor(obs, dtype=torch.float32, device=device).unsqueeze(0))[0]
    if noise > 0:
        perturbation = torch.as_tensor(rng.standard_normal(action.shape), dtype=torch.float32)
        action = (action + noise * perturbation.to(device)).clamp(-1.0, 1.0)
    return actor.to_env_units(action).cpu().numpy()


def run_episode(env, act: Policy, seed: int):
    obs, info = env.reset(seed=seed)
    total, length = 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(act(obs, info))
        total += float(reward)
        length += info.get("env_steps", 1)  # in env steps, whatever the control
        if terminated or truncated:
            return total, length, info


def play_task(
    env, act: Policy, task: str, episodes: int, seed: int, noise: float, path: str
) -> TaskResult:
    """`episodes` episodes of `act` on `env` (closed afterwards), seeds seed, seed + 1, ..."""
    returns, lengths, scores, successes = [], [], [], []
    try:
        for episode in range(episodes):
            total, length, info = run_episode(env, act, seed + episode)
            returns.append(total)
            lengths.append(length)
            scores.append(competition_score(task, info.get("reward_terms", {})))
            successes.append(float(bool(info.get("success", False))))
    finally:
        env.close()
    return TaskResult(
        task=task,
        episodes=episodes,
        return_mean=float(np.mean(returns)),
        return_std=float(np.std(returns)),
        length_mean=float(np.mean(lengths)),
        success_rate=float(np.mean(successes)),
        score_mean=float(np.mean(scores)),
        score_std=float(np.std(scores)),
        noise=noise,
        independent_episodes=not (task in SAME_START_TASKS and noise == 0),
        path=path,
    )


def evaluate_task(
    actor: Actor,
    obs_mode: str,
    task: str,
    episodes: int,
    seed: int = 0,
    noise: float = 0.0,
    control: ControlSpec | None = None,
) -> TaskResult:
    spec = task_spec(task)
    obs_dim = FEATURE_SIZE if obs_mode == "features" else spec.obs_dim
    if (actor.obs_dim, actor.act_dim) != (obs_dim, spec.act_dim):  # pd also drives 12 joints
        raise UserError(
            f"the actor maps obs {actor.obs_dim} -> action {actor.act_dim}, but {task} with "
            f"obs {obs_mode} gives obs {obs_dim} and takes action {spec.act_dim}; "
            "evaluate it on the task(s) it was trained on"
        )
    env = make_task_env(task, seed, obs_mode, control=control)
    rng = np.random.default_rng(seed)
    return play_task(
        env,
        lambda obs, _info: policy_action(actor, obs, noise, rng),
        task,
        episodes,
        seed,
        noise,
        ACTOR_PATH,
    )
