"""Reward shaping: extra terms on the env's reward, each weighted in the config (0 = off).

The env's own reward is never lost: each step's info carries it (`env_reward`) with each term's
weighted value (`shaping`), and the step that ends an episode carries the episode's sums
(`episode_env_return`, `episode_shaping`), which the loop logs as `rollout/env_rew_mean` and
`shaping/<term>`. Evaluation plays the unshaped env, so the score never sees shaping.

Terms (raw values; the reward gains weight x raw):
- fall: -1 on the step the env ends the episode because the robot fell (its own check, torso
  height, so a goal or a ball out of play is not a fall).
- away_from_ball: potential-based, gamma * phi(s') - phi(s) with phi = -(robot-ball distance
  on the ground): positive while closing in, negative while walking away.
- step: -1 every step.
- toward_target: potential-based with phi = -(ball-target distance on the ground); the target
  is the task's target site (kick-to-target, obstacle goal area) or the goal the robot attacks.
- aim: potential-based with phi = -(how near the ball's straight roll passes the target): the
  closest approach of ball + velocity * t, t >= 0, to the target, which is the ball-target
  distance for a ball at rest or rolling away. It pays a strike when it is struck, by how well
  it is aimed, where toward_target pays only as the ball arrives. Measured on kick-to-target:
  a struck ball rolls at a near-constant speed (1.6 m/s for 5 s, the chaser's strike on seed
  1), so its line is where it goes; the chaser's strikes missed there by 0.8 to 2.1 m.
- upright: cos(torso tilt) every step, +1 standing straight, 0 lying flat.
- action: minus the mean squared action in units of its bounds, every step.
- competition: the competition's score of the episode (envs/score.py), paid on its last step:
  a goal, a strike's speed toward the goal (1.5 per m/s), a touch, a fall, a blocked ball.

With gamma < 1 a potential also pays (1 - gamma) * distance every step, whatever the policy
does: standing 4 m from the goal earned 0.25 a decision in the soccer preset, more than walking
the ball toward it earned, and its first run stood (eval score -0.99 after 300k env steps).
`potential_gamma: 1` makes them plain progress terms, which pay only for getting closer.

`env_reward` weighs the env's own reward (1: as the env pays it). sai_mujoco's dense reward
sums per physics step terms of very different scales (a goal pays 25 at every step the ball sits
in the goal), so a command-control run sets it to 0 and learns from the terms above, which say
what the competition scores.

The potential terms follow Ng, Harada & Russell (1999), with one deliberate difference: the
last state keeps its potential (phi(terminal) = phi(s_T), not 0), so an episode's shaping sums
to gamma^T phi(s_T) - phi(s_0) and where the episode ends counts, as it does for the competition.
With phi(terminal) = 0 every termination paid back the remaining distances: a fall 4 m from the
goal earned 4 m of toward_target, a ball kicked out of the field more the further it flew
(measured: the soccer preset's first episodes averaged +25 from falls and balls out). fall,
step and upright are state rewards, not potentials, and do change what is optimal: that is
their purpose, and why they are small or off by default (see DEFAULT_SHAPING).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from soccer_td3.envs.observation import projected_gravity
from soccer_td3.envs.score import competition_score

SHAPING_TERMS = (
    "fall", "away_from_ball", "step", "toward_target", "aim", "upright", "action", "competition"
)  # fmt: skip


class ShapingWeights(BaseModel):
    """Weight of each term; 0 turns it off. Weights are magnitudes: each term's sign is fixed."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    fall: float = Field(0.0, ge=0, description="Penalty when the robot falls (ends the episode).")
    away_from_ball: float = Field(
        0.0, ge=0, description="Potential on the robot-ball distance (per metre)."
    )
    step: float = Field(0.0, ge=0, description="Penalty per step taken.")
    toward_target: float = Field(
        0.0, ge=0, description="Potential on the ball-target distance (per metre)."
    )
    aim: float = Field(
        0.0,
        ge=0,
        description="Potential on how near the ball's rolling line passes the target (per metre).",
    )
    upright: float = Field(0.0, ge=0, description="Bonus per step of cos(torso tilt).")
    action: float = Field(
        0.0,
        ge=0,
        description="Penalty per step of the mean squared action, in units of its bounds: a "
        "residual over a standing controller then deviates only where it pays.",
    )
    competition: float = Field(
        0.0, ge=0, description="The competition's score of the episode, paid on its last step."
    )
    env_reward: float = Field(
        1.0, ge=0, description="Weight of the env's own reward (0: only the terms above)."
    )
    potential_gamma: float | None = Field(
        None,
        ge=0,
        le=1,
        description="The gamma of the potential terms: none = the learner's (policy-invariant); "
        "1 = plain progress, phi(s') - phi(s), which pays nothing for standing still.",
    )

    @property
    def active(self) -> bool:
        return self.env_reward != 1.0 or any(getattr(self, term) for term in SHAPING_TERMS)


# Why these (README, "Reward shaping"): the env pays about +0.25 a step for staying up but
# punishes a fall only on the penalty tasks (-10/-15), so `fall` 10 makes a fall cost about 40
# steps of reward on every task. The potentials cannot change the optimum, so they are on.
# `upright` 0.05 nudges toward balance, the first skill, kept small because it pays for standing
# still. `step` stays 0: falls end episodes, so a step cost would make falling early attractive.
DEFAULT_SHAPING = ShapingWeights(fall=10.0, away_from_ball=0.5, toward_target=1.0, upright=0.05)


def resolve_shaping(value: Any) -> Any:
    """`none`, `default` or a YAML file of weights become weights; mappings pass through."""
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        return value
    if value == "none":
        return ShapingWeights()
    if value == "default":
        return DEFAULT_SHAPING
    path = Path(value)
    if not path.is_file():
        raise ValueError(
            f"{value!r} is neither none, default nor an existing YAML file of weights "
            f"({', '.join(SHAPING_TERMS)})"
        )
    try:
        weights = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError:
        raise ValueError(
            f"shaping file {value} is not a text file (not UTF-8); pass a YAML file of term weights"
        ) from None
    except yaml.YAMLError:
        raise ValueError(f"shaping file {value} is not valid YAML") from None
    if not isinstance(weights, dict):
        raise ValueError(
            f"shaping file {value} must map terms ({', '.join(SHAPING_TERMS)}) to weights"
        )
    return weights


def _ground_distance(offset: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(offset, dtype=np.float64)[:2]))


def closest_approach(to_target: np.ndarray, velocity: np.ndarray) -> float:
    """How near a ball rolling on at `velocity` passes a target `to_target` away from it (on the
    ground, metres): its distance now when at rest or rolling away."""
    offset = np.asarray(to_target, dtype=np.float64)[:2]
    velocity = np.asarray(velocity, dtype=np.float64)[:2]
    speed_squared = float(velocity @ velocity)
    if speed_squared < 1e-8:
        return float(np.linalg.norm(offset))
    time = max(float(offset @ velocity) / speed_squared, 0.0)
    return float(np.linalg.norm(offset - time * velocity))


def ball_to_target(info: dict[str, Any]) -> np.ndarray:
    """Where the ball should go, relative to the ball: the task's target site when it has one
    (its offset from the robot is then non-zero), otherwise the goal of the team the robot
    attacks (player_team one-hot [1, 0] attacks goal_team_0, as sai_mujoco's rewards do)."""
    target_rel_robot = np.asarray(info["target_xpos_rel_robot"], dtype=np.float64)
    if np.linalg.norm(target_rel_robot) > 1e-6:
        return target_rel_robot - np.asarray(info["ball_xpos_rel_robot"], dtype=np.float64)
    goal = "goal_team_0_rel_ball" if info["player_team"][0] == 1 else "goal_team_1_rel_ball"
    return np.asarray(info[goal], dtype=np.float64)


class RewardShaping(gym.Wrapper):
    """Adds the weighted shaping terms to a soccer task's reward; needs the task's raw info."""

    def __init__(self, env: gym.Env, weights: ShapingWeights, gamma: float, task_id: str) -> None:
        """`gamma` is the learner's (weights.potential_gamma may replace it); `task_id` says how
        the competition scores an episode (the competition term)."""
        super().__init__(env)
        self.weights, self.task_id = weights, task_id
        self.gamma = gamma if weights.potential_gamma is None else weights.potential_gamma
        self._potentials = (0.0, 0.0, 0.0)
        self._episode_terms = dict.fromkeys(SHAPING_TERMS, 0.0)
        self._episode_env_return = 0.0
        self._action_bound = np.abs(env.action_space.high).astype(np.float64)  # symmetric

    def potentials(self, info: dict[str, Any]) -> tuple[float, float, float]:
        """phi of away_from_ball, toward_target and aim: minus the distances they shrink."""
        to_target = ball_to_target(info)
        # The ball's world velocity: info has it only relative to the moving robot.
        ball_velocity = self.env.unwrapped.sim.data.get_site_xvelp("ball")
        return (
            -_ground_distance(info["ball_xpos_rel_robot"]),
            -_ground_distance(to_target),
            -closest_approach(to_target, ball_velocity),
        )

    def _fell(self) -> bool:
        return any(robot.is_terminated() for robot in self.env.unwrapped.robots)

    def raw_terms(
        self, info: dict[str, Any], terminated: bool, action, truncated: bool = False
    ) -> dict[str, float]:
        """Each term before its weight, for the step of `action` that produced `info`."""
        ball, target, aim = self.potentials(info)  # also at the end: see the module doc
        previous_ball, previous_target, previous_aim = self._potentials
        return {
            "fall": -1.0 if terminated and self._fell() else 0.0,
            "away_from_ball": self.gamma * ball - previous_ball,
            "step": -1.0,
            "toward_target": self.gamma * target - previous_target,
            "aim": self.gamma * aim - previous_aim,
            "upright": float(-projected_gravity(np.asarray(info["robot_quat"]))[2]),
            "action": -float(np.mean(self.relative(action) ** 2)),
            "competition": competition_score(self.task_id, info.get("reward_terms", {}))
            if terminated or truncated
            else 0.0,
        }

    def relative(self, action) -> np.ndarray:
        return np.asarray(action, dtype=np.float64) / self._action_bound

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._potentials = self.potentials(info)
        self._episode_terms = dict.fromkeys(SHAPING_TERMS, 0.0)
        self._episode_env_return = 0.0
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        raw = self.raw_terms(info, terminated, action, truncated)
        self._potentials = self.potentials(info)
        terms = {term: getattr(self.weights, term) * raw[term] for term in SHAPING_TERMS}
        env_reward = float(reward)
        self._episode_env_return += env_reward
        for term, value in terms.items():
            self._episode_terms[term] += value
        info = {**info, "env_reward": env_reward, "shaping": terms}
        if terminated or truncated:
            info["episode_env_return"] = self._episode_env_return
            info["episode_shaping"] = dict(self._episode_terms)
        shaped = self.weights.env_reward * env_reward + sum(terms.values())
        return obs, shaped, terminated, truncated, info
