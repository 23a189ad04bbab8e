"""The task ids soccer_td3 knows, and make_env() with a clear error for anything else.

The table is static so that a bad id is rejected before MuJoCo is imported; a test checks it
against what `sai_mujoco` really registers (sai-mujoco 0.1.30, mujoco 3.3.7).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

from soccer_td3.errors import UserError


@dataclass(frozen=True)
class TaskSpec:
    """What a task looks like from outside: sizes the networks and the buffer depend on."""

    task_id: str
    obs_dim: int
    act_dim: int
    max_episode_steps: int
    robot: str


# Booster T1 lower body: 12 joint torques, bounds ±[45,45,30,65,24,15] per leg.
# T1 (whole body, 23 normalised actions) also steps fine. LowerT1GoalKeeper-v0 and
# T1GoalKeeper-v0 are registered but fail on reset in 0.1.30
# ("'GoalKeeper_v0' object has no attribute 'complete_space'"), so they are left out.
TASKS: dict[str, TaskSpec] = {
    spec.task_id: spec
    for spec in (
        TaskSpec("LowerT1GoaliePenaltyKick-v0", 45, 12, 5000, "Booster T1 lower body"),
        TaskSpec("LowerT1KickToTarget-v0", 39, 12, 5000, "Booster T1 lower body"),
        TaskSpec("LowerT1ObstaclePenaltyKick-v0", 54, 12, 5000, "Booster T1 lower body"),
        TaskSpec("LowerT1PenaltyKick-v0", 39, 12, 1000, "Booster T1 lower body"),
        TaskSpec("T1GoaliePenaltyKick-v0", 67, 23, 5000, "Booster T1 whole body"),
        TaskSpec("T1KickToTarget-v0", 61, 23, 5000, "Booster T1 whole body"),
        TaskSpec("T1ObstaclePenaltyKick-v0", 76, 23, 5000, "Booster T1 whole body"),
        TaskSpec("T1PenaltyKick-v0", 61, 23, 1000, "Booster T1 whole body"),
    )
}


def task_spec(task_id: str) -> TaskSpec:
    if task_id not in TASKS:
        raise UserError(
            f"unknown env id {task_id!r}; valid ids: {', '.join(TASKS)} (see `soccer-td3 envs`)"
        )
    return TASKS[task_id]


def make_env(task_id: str, seed: int | None = None, **kwargs) -> gym.Env:
    """A real sai_mujoco env for a known id; `seed` seeds its action space; `kwargs` go to
    gym.make (e.g. render_mode="rgb_array", width=480, height=270)."""
    task_spec(task_id)
    import sai_mujoco  # noqa: F401  (registers the ids with gymnasium)

    env = gym.make(task_id, **kwargs)
    if seed is not None:
        env.action_space.seed(seed)
    return env
