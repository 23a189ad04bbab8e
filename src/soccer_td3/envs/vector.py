"""Several env copies stepped as one gymnasium vector env.

SAME_STEP autoreset: the step that ends an episode already returns the next episode's first
observation, and the true last observation sits in `infos["final_obs"]`. Off-policy learning
needs that true last observation for the transition it stores, and it never has to skip a
"reset step" as NEXT_STEP mode would require.
"""

from __future__ import annotations

import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from soccer_td3.envs.registry import make_env, task_spec


def make_vector_env(task_id: str, num_envs: int = 1, seed: int = 0) -> SyncVectorEnv:
    """`num_envs` copies of one task. Sync, not Async: on 1-2 cores a subprocess per env costs
    more in pickling and context switches than the ~0.5 ms a physics step takes."""
    task_spec(task_id)
    envs = SyncVectorEnv(
        [lambda i=i: make_env(task_id, seed + i) for i in range(num_envs)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    envs.action_space.seed(seed)
    return envs


def true_next_obs(next_obs: np.ndarray, infos: dict, episode_ended: np.ndarray) -> np.ndarray:
    """The observation each transition really led to: the final one for envs that just reset."""
    if not episode_ended.any():
        return next_obs
    real = next_obs.copy()
    for i in np.flatnonzero(episode_ended):
        real[i] = infos["final_obs"][i]
    return real


def _unbatch(batched: dict, i: int) -> dict:
    """Env i's view of a vector env's info dict (nested dicts such as reward_terms included)."""
    return {
        key: _unbatch(value, i) if isinstance(value, dict) else value[i]
        for key, value in batched.items()
        if not key.startswith("_")
    }


def final_infos(infos: dict, episode_ended: np.ndarray) -> list[dict]:
    """Per-env info dict of the last step of each episode that just ended, in env order."""
    batched = infos.get("final_info", {})
    return [_unbatch(batched, i) for i in np.flatnonzero(episode_ended)]
