"""Episodes of a policy on a task, scored as the competition scores them.

Here, not in reports/, because training evaluates as it goes: data flows config -> envs ->
agent -> training -> reports -> cli, and nothing below reports imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from soccer_td3.agent.networks import Actor
from soccer_td3.envs.build import make_task_env
from soccer_td3.envs.control import ControlSpec
from soccer_td3.envs.registry import task_spec
from soccer_td3.envs.score import competition_score
from soccer_td3.envs.shaping import ball_to_target
from soccer_td3.errors import UserError

# The goalie task resets to the same state whatever the seed (measured: identical first
# observations for seeds 0..9), so a deterministic policy replays one episode N times.
SAME_START_TASKS = {"LowerT1GoaliePenaltyKick-v0"}
ACTOR_PATH = "soccer_td3 actor (weights file, obs wrapper, tanh rescaled to the bounds)"
# What the actor's [-1, 1] action becomes under each control mode, for the "played through" line.
CONTROL_PATHS = {
    "pd": "soccer_td3 actor (weights file, obs wrapper, tanh -> PD joint targets)",
    "command": "soccer_td3 actor (weights file, obs wrapper, tanh -> walking command -> "
    "T1 walking skill -> PD torques)",
}


def actor_path(control: ControlSpec | None) -> str:
    """How `evaluate` played a trained actor: its action's way to the joints."""
    return CONTROL_PATHS.get(control.control, ACTOR_PATH) if control else ACTOR_PATH


# (obs, info) -> the action the env steps with, in the env's units.
Policy = Callable[[np.ndarray, dict], np.ndarray]


@dataclass
class TaskResult:
    task: str
    episodes: int
    return_mean: float
    return_std: float
    length_mean: float
    success_rate: float  # goals on the penalty tasks, the ball on its target on kick-to-target
    score_mean: float
    score_std: float
    noise: float
    independent_episodes: bool
    path: str = ACTOR_PATH
    touch_rate: float = 0.0  # episodes in which the ball moved (only the robot moves it first)
    fall_rate: float = 0.0
    closer_rate: float = 0.0  # episodes whose ball ended over 0.1 m nearer its target
    scores: list[float] = field(default_factory=list)  # each episode's, in seed order


@dataclass(frozen=True)
class Episode:
    """What one episode did, from its first and last steps' info."""

    total: float
    length: int
    score: float
    success: bool
    touched: bool
    fell: bool
    closer: bool


# The ball moved this far (m) from where it started: it was touched (and "closer" needs this
# much progress: a ball settling at rest moves it ~1 cm, which stand counted as closer).
TOUCH_DISTANCE = 0.1


def ball_position(info: dict) -> np.ndarray:
    """The ball's world position on the ground: goal_team_0 sits at (-length, 0)."""
    goal = np.array([-float(info["length"]), 0.0])
    return goal - np.asarray(info["goal_team_0_rel_ball"], np.float64)[:2]


def target_distance(info: dict) -> float:
    return float(np.linalg.norm(ball_to_target(info)[:2]))


def robot_fell(env) -> bool:
    """sai_mujoco's own fall check (torso height), which ends an episode."""
    return any(robot.is_terminated() for robot in env.unwrapped.robots)


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


def run_episode(env, act: Policy, seed: int, task: str) -> Episode:
    obs, info = env.reset(seed=seed)
    first = info
    total, length = 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(act(obs, info))
        total += float(reward)
        length += info.get("env_steps", 1)  # in env steps, whatever the control
        if terminated or truncated:
            break
    moved = np.linalg.norm(ball_position(info) - ball_position(first))
    return Episode(
        total=total,
        length=length,
        score=competition_score(task, info.get("reward_terms", {})),
        success=bool(info.get("success", False)),
        touched=bool(moved > TOUCH_DISTANCE),
        fell=bool(terminated and robot_fell(env)),
        closer=target_distance(first) - target_distance(info) > TOUCH_DISTANCE,
    )


def play_task(
    env, act: Policy, task: str, episodes: int, seed: int, noise: float, path: str
) -> TaskResult:
    """`episodes` episodes of `act` on `env` (closed afterwards), seeds seed, seed + 1, ..."""
    try:
        played = [run_episode(env, act, seed + episode, task) for episode in range(episodes)]
    finally:
        env.close()
    rate = lambda flag: float(np.mean([getattr(e, flag) for e in played]))  # noqa: E731
    scores = [e.score for e in played]
    return TaskResult(
        task=task,
        episodes=episodes,
        return_mean=float(np.mean([e.total for e in played])),
        return_std=float(np.std([e.total for e in played])),
        length_mean=float(np.mean([e.length for e in played])),
        success_rate=rate("success"),
        score_mean=float(np.mean(scores)),
        score_std=float(np.std(scores)),
        noise=noise,
        independent_episodes=not (task in SAME_START_TASKS and noise == 0),
        path=path,
        touch_rate=rate("touched"),
        fall_rate=rate("fell"),
        closer_rate=rate("closer"),
        scores=scores,
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
    task_spec(task)
    env = make_task_env(task, seed, obs_mode, control=control)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    if (actor.obs_dim, actor.act_dim) != (obs_dim, act_dim):
        env.close()
        raise UserError(
            f"the actor maps obs {actor.obs_dim} -> action {actor.act_dim}, but {task} with "
            f"obs {obs_mode} gives obs {obs_dim} and takes action {act_dim}; "
            "evaluate it on the task(s) it was trained on"
        )
    rng = np.random.default_rng(seed)
    return play_task(
        env,
        lambda obs, _info: policy_action(actor, obs, noise, rng),
        task,
        episodes,
        seed,
        noise,
        actor_path(control),
    )
