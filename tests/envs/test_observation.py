import numpy as np
import pytest

from soccer_td3.envs.build import VectorObservation
from soccer_td3.envs.observation import (
    FEATURE_SIZE,
    FEATURE_TASKS,
    GRAVITY_SLICE,
    features,
    projected_gravity,
)
from soccer_td3.envs.registry import make_env


def test_projected_gravity_by_hand():
    # upright, any heading: straight down in the robot frame
    assert np.allclose(projected_gravity(np.array([0.0, 0.0, 0.0, 1.0])), [0, 0, -1])
    assert np.allclose(projected_gravity(np.array([0.0, 0.0, 1.0, 0.0])), [0, 0, -1])  # yaw 180
    # rolled +90 degrees about x (x, y, z, w) = (sin 45, 0, 0, cos 45): gravity along -y
    s = np.sqrt(0.5)
    assert np.allclose(projected_gravity(np.array([s, 0.0, 0.0, s])), [0, -1, 0], atol=1e-12)
    # pitched +90 degrees about y: gravity along +x in the robot frame
    assert np.allclose(projected_gravity(np.array([0.0, s, 0.0, s])), [1, 0, 0], atol=1e-12)


@pytest.mark.parametrize("task_id", FEATURE_TASKS)
def test_every_task_gives_the_same_length_finite_vector(task_id):
    env = VectorObservation(make_env(task_id, seed=0), task_id, "features")
    try:
        obs, _ = env.reset(seed=0)
        raw, _ = env.env.reset(seed=0)
        assert obs.shape == (FEATURE_SIZE,) and obs.dtype == np.float32
        assert np.isfinite(obs).all()
        assert np.array_equal(obs[:24], raw[:24])  # joint positions and velocities first
        assert np.allclose(obs[GRAVITY_SLICE], [0, 0, -1], atol=1e-2)  # starts upright
        one_hot = obs[-len(FEATURE_TASKS) :]
        assert one_hot.sum() == 1 and one_hot[FEATURE_TASKS.index(task_id)] == 1
        obs, *_ = env.step(env.action_space.sample())
        assert obs.shape == (FEATURE_SIZE,) and np.isfinite(obs).all()
    finally:
        env.close()


def test_fields_a_task_lacks_are_zeros():
    info = {"robot_quat": np.array([0, 0, 0, 1.0]), "ball_xpos_rel_robot": np.array([1, 2, 3])}
    vector = features(np.arange(45.0), info, "LowerT1KickToTarget-v0")
    assert vector.shape == (FEATURE_SIZE,)
    ball_at = 24 + 3 + 3 * 7  # joints, gravity, gyro/acc/vel, four goal vectors
    assert vector[ball_at : ball_at + 3].tolist() == [1, 2, 3]
    assert vector[27:ball_at].tolist() == [0.0] * (ball_at - 27)


def test_the_gravity_and_gyro_slices_hold_what_the_balance_law_reads():
    """The exported PD model reads tilt and pitch rate at these indices of the feature vector."""
    from soccer_td3.envs.observation import GRAVITY_SLICE, GYRO_SLICE, features, projected_gravity
    from soccer_td3.envs.registry import make_env

    env = make_env("LowerT1GoaliePenaltyKick-v0", seed=0)
    obs, info = env.reset(seed=0)
    for _ in range(20):
        obs, _, _, _, info = env.step(env.action_space.sample())
    vector = features(obs, info, "LowerT1GoaliePenaltyKick-v0")
    np.testing.assert_allclose(vector[GYRO_SLICE], info["robot_gyro"], rtol=1e-6)
    want = projected_gravity(np.asarray(info["robot_quat"]))
    np.testing.assert_allclose(vector[GRAVITY_SLICE], want, rtol=1e-6)
    assert np.abs(vector[GYRO_SLICE]).max() > 0  # the robot moved: not a match of zeros
    env.close()
