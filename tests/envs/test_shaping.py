"""Each shaping term on real transitions of the real simulator.

The robot and the ball are given a velocity (their free joints' qvel) before a real physics
step, so "moving toward the ball" or "the ball heading for the goal" is what MuJoCo integrates,
not a number written into an info dict.
"""

import mujoco
import numpy as np
import pytest

from soccer_td3.config import build_config
from soccer_td3.envs.registry import make_env
from soccer_td3.envs.score import competition_score
from soccer_td3.envs.shaping import (
    DEFAULT_SHAPING,
    SHAPING_TERMS,
    RewardShaping,
    ShapingWeights,
    ball_to_target,
    closest_approach,
)
from soccer_td3.errors import UserError

GOALIE = "LowerT1GoaliePenaltyKick-v0"
ALL_ON = ShapingWeights(**dict.fromkeys(SHAPING_TERMS, 1.0))


def _free_joint_dof(env, name: str) -> int:
    model = env.unwrapped.sim.model._model
    return int(model.jnt_dofadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)])


def _push(env, joint: str, velocity_xy: np.ndarray) -> None:
    """Set a free joint's horizontal velocity; env.step integrates it."""
    dof = _free_joint_dof(env, joint)
    env.unwrapped.sim.data._data.qvel[dof : dof + 2] = velocity_xy


def _still(env) -> np.ndarray:
    return np.zeros(env.action_space.shape)


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)[:2]
    return vector / np.linalg.norm(vector)


def _step_with_push(task, joint, direction_of, speed, gamma=0.99):
    env = RewardShaping(make_env(task, 0), ALL_ON, gamma, task)
    _, info = env.reset(seed=0)
    if direction_of is not None:
        _push(env, joint, speed * direction_of(info))
    # sai_mujoco's info reads site positions MuJoCo computed before integrating, so a push
    # shows from the second step on.
    for _ in range(2):
        _, _, _, _, info = env.step(_still(env))
    env.close()
    return info["shaping"]


def toward_ball(info):
    return _unit(info["ball_xpos_rel_robot"])


def away_from_ball(info):
    return -toward_ball(info)


def test_moving_toward_the_ball_is_positive_and_walking_away_is_below_standing_still():
    toward = _step_with_push(GOALIE, "robot_0:root", toward_ball, 2.0)["away_from_ball"]
    still = _step_with_push(GOALIE, "robot_0:root", None, 0.0)["away_from_ball"]
    away = _step_with_push(GOALIE, "robot_0:root", away_from_ball, 2.0)["away_from_ball"]
    assert toward > 0
    assert toward > still > away


def test_walking_away_from_the_ball_is_negative_without_discounting():
    # With gamma < 1 the term also holds (1 - gamma) * distance per step (see shaping.py);
    # with gamma = 1 it is exactly the distance change.
    away = _step_with_push(GOALIE, "robot_0:root", away_from_ball, 2.0, gamma=1.0)
    toward = _step_with_push(GOALIE, "robot_0:root", toward_ball, 2.0, gamma=1.0)
    assert away["away_from_ball"] < 0 < toward["away_from_ball"]


@pytest.mark.parametrize("task", [GOALIE, "LowerT1KickToTarget-v0"])
def test_ball_heading_for_the_target_is_positive_and_away_from_it_is_negative(task):
    def to_target(info):
        return _unit(ball_to_target(info))

    def from_target(info):
        return -to_target(info)

    toward = _step_with_push(task, "env:ball", to_target, 5.0, gamma=1.0)["toward_target"]
    away = _step_with_push(task, "env:ball", from_target, 5.0, gamma=1.0)["toward_target"]
    assert away < 0 < toward
    discounted = _step_with_push(task, "env:ball", to_target, 5.0)["toward_target"]
    assert discounted > 0


def test_closest_approach_is_the_miss_distance_of_the_balls_line():
    assert closest_approach(np.array([3.0, 0.0]), np.array([1.0, 0.0])) == 0.0
    assert closest_approach(np.array([3.0, 1.0]), np.array([2.0, 0.0])) == pytest.approx(1.0)
    # rolling away or at rest: the distance now
    assert closest_approach(np.array([3.0, 4.0]), np.array([-1.0, 0.0])) == pytest.approx(5.0)
    assert closest_approach(np.array([3.0, 4.0]), np.zeros(2)) == pytest.approx(5.0)


def test_aim_pays_a_strike_when_struck_by_how_well_it_is_aimed():
    """A real push of the ball on kick-to-target (seed 2: nothing in its way): straight at the
    target the aim term pays the whole distance within two steps; 30 degrees off it pays about
    half; toward_target pays only the few centimetres the ball has rolled so far."""
    task = "LowerT1KickToTarget-v0"

    def strike(degrees_off: float) -> tuple[float, dict[str, float]]:
        env = RewardShaping(make_env(task, 0), ALL_ON, 1.0, task)
        _, info = env.reset(seed=2)
        distance = float(np.linalg.norm(ball_to_target(info)[:2]))
        x, y = _unit(ball_to_target(info))
        angle = np.radians(degrees_off)
        direction = np.array(
            [np.cos(angle) * x - np.sin(angle) * y, np.sin(angle) * x + np.cos(angle) * y]
        )
        _push(env, "env:ball", 3.0 * direction)
        paid = dict.fromkeys(("aim", "toward_target"), 0.0)
        for _ in range(2):
            _, _, _, _, info = env.step(_still(env))
            for term in paid:
                paid[term] += info["shaping"][term]
        env.close()
        return distance, paid

    distance, straight = strike(0.0)
    _, angled = strike(30.0)
    assert straight["aim"] > 0.9 * distance
    assert 0 < angled["aim"] < straight["aim"] - 0.3 * distance
    assert straight["toward_target"] < 0.1 * distance


def test_goalie_target_is_the_goal_the_robot_attacks():
    env = make_env(GOALIE, 0)
    _, info = env.reset(seed=0)
    env.close()
    # The penalty spot is a few metres from the attacked goal, the other goal is across the field.
    assert np.linalg.norm(ball_to_target(info)[:2]) < 5.0


def test_fall_is_penalised_once_on_the_step_the_robot_falls_and_upright_drops():
    env = RewardShaping(make_env(GOALIE, 0), ALL_ON, 0.99, GOALIE)
    env.reset(seed=0)
    env.action_space.seed(0)
    falls, uprights = [], []
    for _ in range(600):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        falls.append(info["shaping"]["fall"])
        uprights.append(info["shaping"]["upright"])
        if terminated or truncated:
            break
    env.close()
    assert terminated, "a random policy falls within 600 steps"
    assert falls[-1] == -1.0 and all(f == 0.0 for f in falls[:-1])
    assert uprights[0] > 0.99  # standing straight at the start
    assert uprights[-1] < 0.95  # tilted when it fell
    assert info["episode_shaping"]["fall"] == -1.0


def test_an_episode_ended_by_the_ball_is_not_a_fall():
    env = RewardShaping(make_env(GOALIE, 0), ALL_ON, 0.99, GOALIE)
    _, info = env.reset(seed=0)
    # Shoot the ball at the goal (the keeper saves it) long before the idle robot would fall.
    _push(env, "env:ball", 15.0 * _unit(ball_to_target(info)))
    for _ in range(200):
        _, _, terminated, truncated, info = env.step(_still(env))
        if terminated or truncated:
            break
    env.close()
    terms = info["reward_terms"]
    assert terminated and (terms["goal_scored"] or terms["ball_blocked"])
    assert not terms["robot_fallen"]
    assert info["shaping"]["fall"] == 0.0


def test_step_term_is_minus_its_weight_every_step():
    env = RewardShaping(make_env(GOALIE, 0), ShapingWeights(step=0.3), 0.99, GOALIE)
    env.reset(seed=0)
    for _ in range(5):
        _, reward, _, _, info = env.step(_still(env))
        assert info["shaping"]["step"] == pytest.approx(-0.3)
        assert reward == pytest.approx(info["env_reward"] - 0.3)
    env.close()


def test_zero_weights_leave_the_env_reward_unchanged():
    plain = make_env(GOALIE, 0)
    shaped = RewardShaping(make_env(GOALIE, 0), ShapingWeights(), 0.99, GOALIE)
    plain.reset(seed=3)
    shaped.reset(seed=3)
    actions = np.random.default_rng(0).uniform(-1, 1, (300, *plain.action_space.shape))
    returns = []
    for action in plain.action_space.low + (actions + 1) / 2 * (
        plain.action_space.high - plain.action_space.low
    ):
        _, r_plain, end_plain, trunc_plain, _ = plain.step(action)
        _, r_shaped, end_shaped, trunc_shaped, info = shaped.step(action)
        assert r_shaped == r_plain
        assert info["env_reward"] == r_plain
        assert (end_shaped, trunc_shaped) == (end_plain, trunc_plain)
        returns.append(r_plain)
        if end_plain or trunc_plain:
            assert info["episode_env_return"] == pytest.approx(sum(returns))
            break
    plain.close()
    shaped.close()


def test_each_term_is_its_weight_times_its_raw_value_over_a_whole_episode():
    """Two envs, same seed and actions: unit weights give the raw terms, and any other
    weights scale each term on its own, up to the fall that ends the episode."""
    weights = ShapingWeights(
        fall=2.0, away_from_ball=3.0, step=0.1, toward_target=4.0, upright=0.5, action=0.2
    )
    unit, weighted = (
        RewardShaping(make_env(GOALIE, 0), w, 0.99, GOALIE) for w in (ALL_ON, weights)
    )
    unit.reset(seed=0)
    weighted.reset(seed=0)
    unit.action_space.seed(1)
    for action in (unit.action_space.sample() for _ in range(600)):
        _, _, end, trunc, raw = unit.step(action)
        _, reward, _, _, info = weighted.step(action)
        for term in SHAPING_TERMS:
            expected = getattr(weights, term) * raw["shaping"][term]
            assert info["shaping"][term] == pytest.approx(expected), term
        assert reward == pytest.approx(info["env_reward"] + sum(info["shaping"].values()))
        if end or trunc:
            break
    assert end and info["shaping"]["fall"] == -2.0
    unit.close()
    weighted.close()


def test_the_last_step_keeps_its_potential_so_ending_far_away_pays_nothing_back():
    """phi(terminal) = phi(s_T): a fall pays gamma * phi(s_T) - phi(s), not the -phi(s) (the
    whole remaining distance) that phi(terminal) = 0 would give back."""
    env = RewardShaping(make_env(GOALIE, 0), ALL_ON, 0.99, GOALIE)
    _, info = env.reset(seed=0)
    env.action_space.seed(0)
    while True:
        previous = env.potentials(info)
        _, _, end, trunc, info = env.step(env.action_space.sample())
        if end or trunc:
            break
    last = env.potentials(info)
    env.close()
    assert end
    assert last[0] < -0.5  # the robot fell away from the ball: a distance that must not pay
    assert info["shaping"]["away_from_ball"] == pytest.approx(0.99 * last[0] - previous[0])
    assert info["shaping"]["toward_target"] == pytest.approx(0.99 * last[1] - previous[1])
    assert info["shaping"]["aim"] == pytest.approx(0.99 * last[2] - previous[2])


def test_shaping_setting_accepts_none_default_and_a_weights_file(tmp_path):
    assert not build_config(overrides={"shaping": "none"}).environment.shaping.active
    assert build_config(overrides={"shaping": "default"}).environment.shaping == DEFAULT_SHAPING
    weights = tmp_path / "weights.yaml"
    weights.write_text("fall: 3\nupright: 0.2\n")
    config = build_config(overrides={"shaping": str(weights)})
    assert (
        config.environment.shaping.fall,
        config.environment.shaping.upright,
        config.environment.shaping.step,
    ) == (3, 0.2, 0)
    # A run's config.yaml holds the weights themselves, so it reloads without the file.
    config.to_yaml(tmp_path / "config.yaml")
    assert (
        build_config(config_file=tmp_path / "config.yaml").environment.shaping
        == config.environment.shaping
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("sometimes", ["shaping", "none, default"]),
        ({"fal": 1.0}, ["shaping", "fal"]),
        ({"fall": -1.0}, ["shaping", "fall"]),
    ],
)
def test_bad_shaping_is_a_one_line_config_error(value, words):
    with pytest.raises(UserError) as error:
        build_config(overrides={"shaping": value})
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_the_action_term_is_minus_the_mean_squared_action_in_units_of_its_bounds():
    env = RewardShaping(make_env(GOALIE, 0), ALL_ON, 0.99, GOALIE)
    env.reset(seed=0)
    high = env.action_space.high
    for fraction in (0.0, 0.5, 1.0):
        action = np.where(np.arange(12) % 2 == 0, fraction, -fraction) * high
        _, _, _, _, info = env.step(action)
        assert info["shaping"]["action"] == pytest.approx(-(fraction**2))
    env.close()
    # Under pd control the action already is in [-1, 1]: the same term, unscaled.
    from soccer_td3.config import TrainConfig
    from soccer_td3.envs.control import JointControl

    spec = TrainConfig(control="pd").environment.control_spec
    env = RewardShaping(JointControl(make_env(GOALIE, 0), spec), ALL_ON, 0.99, GOALIE)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.full(12, 0.3))
    assert info["shaping"]["action"] == pytest.approx(-0.09)
    env.close()


def test_potential_gamma_one_pays_nothing_for_standing_and_the_learners_gamma_pays_distance():
    """Standing still: plain progress (potential_gamma 1) is 0; at the learner's gamma the
    potentials pay (gamma - 1) * phi = (1 - gamma) * distance every step."""
    terms = {}
    for potential_gamma in (None, 1.0):
        weights = ShapingWeights(away_from_ball=1.0, potential_gamma=potential_gamma)
        env = RewardShaping(make_env(GOALIE, 0), weights, 0.98, GOALIE)
        env.reset(seed=0)
        _, _, _, _, info = env.step(_still(env))
        terms[potential_gamma] = info["shaping"]["away_from_ball"]
        env.close()
    assert terms[1.0] == pytest.approx(0.0, abs=1e-3)
    assert terms[None] == pytest.approx(0.02 * 2.0, abs=5e-3)  # the ball is 2 m away


def test_env_reward_weight_zero_leaves_only_the_terms():
    weights = ShapingWeights(step=0.5, env_reward=0.0)
    env = RewardShaping(make_env(GOALIE, 0), weights, 0.99, GOALIE)
    env.reset(seed=0)
    reward = env.step(_still(env))[1]
    _, _, _, _, info = env.step(_still(env))
    env.close()
    assert info["env_reward"] != 0.0
    assert reward == pytest.approx(-0.5)


def test_the_competition_term_is_the_episodes_score_on_its_last_step_only():
    env = RewardShaping(make_env(GOALIE, 0), ShapingWeights(competition=2.0), 0.99, GOALIE)
    _, info = env.reset(seed=0)
    _push(env, "env:ball", 15.0 * _unit(ball_to_target(info)))  # the keeper saves it
    paid = []
    while True:
        _, _, terminated, truncated, info = env.step(_still(env))
        paid.append(info["shaping"]["competition"])
        if terminated or truncated:
            break
    env.close()
    assert all(p == 0.0 for p in paid[:-1])
    assert paid[-1] == pytest.approx(2.0 * competition_score(GOALIE, info["reward_terms"]))
