"""Several env copies stepped as one gymnasium vector env.

SAME_STEP autoreset: the step that ends an episode already returns the next episode's first
observation, and the true last observation sits in `infos["final_obs"]`. Off-policy learning
needs that true last observation for the transition it stores, and it never has to skip a
"reset step" as NEXT_STEP mode would require.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

from soccer_td3.envs.build import make_task_env
from soccer_td3.envs.control import ControlSpec
from soccer_td3.envs.registry import task_spec
from soccer_td3.envs.shaping import ShapingWeights


def make_vector_env(
    tasks: Sequence[str],
    envs_per_task: int = 1,
    seed: int = 0,
    obs_mode: str = "raw",
    shaping: ShapingWeights | None = None,
    gamma: float = 0.99,
    control: ControlSpec | None = None,
    asynchronous: bool = False,
) -> tuple[VectorEnv, list[str]]:
    """`envs_per_task` copies of each task, interleaved (env i plays tasks[i % len(tasks)]) so
    every vector step feeds the buffer the tasks in equal share; returns the env and each
    sub-env's task. Sync, not Async: on 1-2 cores a subprocess per env costs more in pickling
    and context switches than a physics step takes (docs/design.md). With `shaping` each env
    reports its own reward beside the shaped one; `gamma` is the learner's, which the potential
    terms need to stay policy-invariant."""
    env_tasks = [tasks[i % len(tasks)] for i in range(envs_per_task * len(tasks))]
    for task in tasks:
        task_spec(task)

    learner = os.getpid()

    def factory(i: int, task: str):
        def make():
            # In an env's own process (AsyncVectorEnv also builds one env in the learner's, for
            # the spaces): Ctrl-C is the learner's to handle, and the walking skill's tiny
            # products get one thread, whose OpenMP workers would only spin against the other
            # envs and the learner.
            if asynchronous and os.getpid() != learner:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                import torch

                torch.set_num_threads(1)
            return make_task_env(task, seed + i, obs_mode, shaping, gamma, control)

        return make

    factories = [factory(i, task) for i, task in enumerate(env_tasks)]
    if asynchronous:
        envs = AsyncVectorEnv(factories, autoreset_mode=AutoresetMode.SAME_STEP, context="spawn")
    else:
        envs = SteppedInPlace(factories, autoreset_mode=AutoresetMode.SAME_STEP)
    envs.action_space.seed(seed)
    return envs, env_tasks


class SteppedInPlace(SyncVectorEnv):
    """SyncVectorEnv with AsyncVectorEnv's step_async / step_wait (gymnasium 1.x has them only
    there), so the training loop sends actions and takes the answer one way for both: here the
    envs step when the answer is asked for."""

    def step_async(self, actions: np.ndarray) -> None:
        self._sent = actions

    def step_wait(self):
        return self.step(self._sent)


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


def env_steps_taken(infos: dict, episode_ended: np.ndarray) -> np.ndarray:
    """Env steps each env's transition lasted: 1, or what a held action (envs/control.py)
    reports in info["env_steps"] (for an env that just reset, in its final_info)."""
    steps = np.ones(len(episode_ended), dtype=np.int64)
    if "env_steps" in infos:
        steps = np.where(infos["_env_steps"], infos["env_steps"], steps)
    final = infos.get("final_info", {})
    if "env_steps" in final:
        steps = np.where(final["_env_steps"] & episode_ended, final["env_steps"], steps)
    return steps
