"""The exported hierarchy (commander, walking skill, PD law) played by the SAI SDK's own code
scores each episode exactly as `soccer-td3 evaluate` does, batched as the platform runs it."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from sai_rl.benchmark.benchmark import run_benchmark
from sai_rl.model.model_manager import ModelManager

from soccer_td3.agent.networks import Actor, TwinCritic
from soccer_td3.agent.weights import ACTOR_FILE, save_weights
from soccer_td3.config import TrainConfig
from soccer_td3.envs.commander import COMMANDER_SIZE, model_input
from soccer_td3.envs.registry import make_env
from soccer_td3.envs.score import competition_score
from soccer_td3.export import export
from soccer_td3.training.evaluation import evaluate_task

OBSTACLE = "LowerT1ObstaclePenaltyKick-v0"


class CompetitionScore(gym.Wrapper):
    """The platform's scoring: an episode's reward is its competition score, paid at its end
    (run_benchmark sums the rewards of each env while it is alive)."""

    def __init__(self, env: gym.Env, task: str) -> None:
        super().__init__(env)
        self.task = task

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        ended = terminated or truncated
        score = competition_score(self.task, info["reward_terms"]) if ended else 0.0
        return obs, score, terminated, truncated, info


@pytest.fixture(scope="module", autouse=True)
def short_obstacle_episodes():
    """Obstacle episodes of 1,000 physics steps (2 s) instead of 5,000 here: batching and
    scoring are the same at any length, and six full episodes cost 40 s of the suite."""
    import sai_mujoco  # noqa: F401  (registers the ids with gymnasium)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gym.spec(OBSTACLE), "max_episode_steps", 1000)
        yield


@pytest.fixture(scope="module")
def hierarchy_export(tmp_path_factory):
    """A commander over the chaser prior (random small corrections), exported."""
    folder = tmp_path_factory.mktemp("commander")
    spec = TrainConfig(control="command", prior="chaser", env=[OBSTACLE]).environment.control_spec
    torch.manual_seed(0)
    actor = Actor(COMMANDER_SIZE, 3, [32, 32], -np.ones(3), np.ones(3))
    meta = {"tasks": [OBSTACLE], "obs": "commander", "control": spec.as_dict()}
    save_weights(folder / "weights", actor, TwinCritic(COMMANDER_SIZE, 3, [32]), meta)
    export(folder / "weights" / ACTOR_FILE, folder / "submission")
    return actor, spec, folder / "submission"


def test_run_benchmark_batches_score_each_episode_as_evaluate_does(hierarchy_export):
    """num_envs 3 on 2 CPUs: a batch of 2, then a batch of 1 (a new size: fresh state), each
    starting with a reset the model sees only in its observations."""
    actor, spec, folder = hierarchy_export
    manager = ModelManager(
        env=make_env(OBSTACLE),
        model=str(folder / "actor.pt"),
        preprocessor_class=str(folder / "preprocessor.py"),
    )
    results, _, seeds = run_benchmark(
        env_creator=lambda index=0: CompetitionScore(make_env(OBSTACLE), OBSTACLE),
        get_actions=manager.get_action,
        num_envs=3,
        seed=0,
    )
    assert len(results) == 3 and len(set(seeds)) == 3
    assert all(result["duration"] <= 2.0 for result in results), results  # 1,000 steps of 2 ms
    for seed, result in zip(seeds, results, strict=True):
        ours = evaluate_task(actor, "commander", OBSTACLE, 1, seed=seed, control=spec)
        assert result["score"] == ours.score_mean, seed


def test_the_sdks_all_zero_check_and_a_new_batch_start_from_a_clean_state(hierarchy_export):
    """The model reads an all-zero row as a reset, and plays the same first steps after it."""
    _, _, folder = hierarchy_export
    model = torch.jit.load(str(folder / "actor.pt"))
    env = make_env(OBSTACLE)
    obs, info = env.reset(seed=5)
    row = torch.from_numpy(model_input(obs, info, OBSTACLE)).unsqueeze(0)
    first = model(row.clone())
    for _ in range(37):
        model(row.clone())
    zero = model(torch.zeros_like(row))
    assert torch.isfinite(zero).all()
    assert torch.equal(model(row.clone()), first)  # a reset row: counter, gait, targets anew
    assert torch.equal(model(row.repeat(2, 1))[1], first[0])  # a batch of 2: fresh rows
