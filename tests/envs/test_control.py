"""JointControl on the real simulator: the PD law, the hold of an action, and the pose.

The law is written out here in numpy, as the kit's controller writes it, and JointControl's
torques (skills/pd.py's torch chain in float64) must equal it bit for bit."""

import numpy as np

from soccer_td3.config import TrainConfig
from soccer_td3.envs.build import make_task_env
from soccer_td3.envs.control import JointControl
from soccer_td3.envs.observation import projected_gravity
from soccer_td3.envs.registry import make_env
from soccer_td3.skills.pd import ANKLE_PITCH

GOALIE = "LowerT1GoaliePenaltyKick-v0"


def robot_ctrl(env) -> np.ndarray:
    """The robot's 12 actuator inputs in MuJoCo (the goalkeepers' come first in ctrl)."""
    sim = env.unwrapped.sim
    names = [sim.model.actuator(i).name for i in range(sim.model.nu)]
    return np.array([sim.data.ctrl[i] for i, n in enumerate(names) if n.startswith("robot_0:")])


def pd_torque(target, q, q_dot, kp, kd, low, high) -> np.ndarray:
    """The official controller's law in numpy: the reference the torch chain must equal."""
    return np.clip(kp * (target - q) - kd * q_dot, low, high)


def pd(decimation: int = 1, **settings):
    return TrainConfig(control="pd", decimation=decimation, **settings).environment.control_spec


def test_pd_torque_is_the_clipped_pd_law_on_real_observations():
    # Gains other than the defaults: the wrapper must take the settings, not the official ones.
    spec = pd(
        pd_kp="150," * 11 + "150",
        pd_kd="3," * 11 + "3",
        pd_pose="-0.1,0,0,0.3,-0.2,0," * 1 + "-0.1,0,0,0.3,-0.2,0",
        pd_action_scale=0.5,
    )
    env = JointControl(make_env(GOALIE, seed=0), spec)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    low, high = env.low, env.high
    saw_clipped = False
    for _ in range(60):
        action = rng.uniform(-1, 1, 12)
        target = np.asarray(spec.pose) + spec.action_scale * action
        want = pd_torque(
            target, obs[:12], obs[12:24], np.array(spec.kp), np.array(spec.kd), low, high
        )
        raw = np.array(spec.kp) * (target - obs[:12]) - np.array(spec.kd) * obs[12:24]
        saw_clipped |= bool(np.any((raw < low) | (raw > high)))
        np.testing.assert_array_equal(env.torque(env.target(action), obs, info), want)
        obs, _, terminated, truncated, info = env.step(action)
        # The torque that reached MuJoCo is that law's, as the actuators hold it.
        np.testing.assert_allclose(robot_ctrl(env), want, rtol=1e-6, atol=1e-6)
        if terminated or truncated:
            obs, info = env.reset()
    assert saw_clipped  # full actions drive some joints past their actuator range


def test_a_held_action_is_decimation_env_steps_summed_and_stops_at_a_termination():
    held = JointControl(make_env(GOALIE, seed=0), pd(decimation=10))
    twin = make_env(GOALIE, seed=0)  # steps the same torques by hand
    obs, _ = held.reset(seed=0)
    twin_obs, twin_info = twin.reset(seed=0)
    np.testing.assert_array_equal(obs, twin_obs)
    rng = np.random.default_rng(1)
    ended_inside = False
    for _ in range(200):
        action = rng.uniform(-1, 1, 12)
        target = held.target(action)
        total, steps = 0.0, 0
        for _ in range(10):
            torque = held.torque(target, twin_obs, twin_info)
            twin_obs, reward, t_term, t_trunc, twin_info = twin.step(torque)
            total, steps = total + float(reward), steps + 1
            if t_term or t_trunc:
                break
        obs, reward, terminated, truncated, info = held.step(action)
        assert info["env_steps"] == steps
        assert reward == total
        np.testing.assert_array_equal(obs, twin_obs)
        assert (terminated, truncated) == (t_term, t_trunc)
        if terminated or truncated:
            ended_inside = steps < 10
            break
    assert terminated and ended_inside  # random targets fell the robot, mid-hold


def test_a_zero_action_reaches_the_pose_holds_it_and_stays_up_500_env_steps():
    """Measured: the robot resets with every joint at 0 (legs straight), 0.4 rad from the
    pose's knees, so the PD law needs ~30 env steps to get there; from step 40 to 200 every
    joint stays within 0.1 rad of the pose (0.07 at most here), and the robot then drifts and
    falls at ~576 env steps (docs/design.md)."""
    env = make_task_env(GOALIE, 0, "raw", control=pd(decimation=10))
    obs, _ = env.reset(seed=0)
    assert np.max(np.abs(obs[:12])) == 0.0  # the start: straight legs, not the pose
    pose = np.array(pd().pose)
    env_steps, worst = 0, 0.0
    while True:
        obs, _, terminated, truncated, info = env.step(np.zeros(12))
        env_steps += info["env_steps"]
        if 40 <= env_steps <= 200:
            worst = max(worst, float(np.max(np.abs(obs[:12] - pose))))
        if terminated or truncated:
            break
    assert worst < 0.1
    assert env_steps >= 500


def test_the_seeds_recipe_runs_on_the_bare_env():
    assert not TrainConfig().environment.control_spec.needs_wrapper
    env = make_task_env(GOALIE, 0, "raw", control=TrainConfig().environment.control_spec)
    assert not isinstance(env, JointControl)


def test_balance_moves_the_ankle_pitch_targets_by_tilt_and_pitch_rate_at_every_env_step():
    spec = pd(decimation=10, pd_balance="2,0.05", obs="features")
    held = JointControl(make_env(GOALIE, seed=0), spec)
    twin = make_env(GOALIE, seed=0)  # steps the law written out here, env step by env step
    held.reset(seed=0)
    twin_obs, twin_info = twin.reset(seed=0)
    kp, kd = np.array(spec.kp), np.array(spec.kd)
    rng = np.random.default_rng(2)
    largest_shift = 0.0
    for _ in range(40):
        action = rng.uniform(-0.3, 0.3, 12)
        for _ in range(10):
            gravity_x = projected_gravity(np.asarray(twin_info["robot_quat"]))[0]
            shift = 2.0 * gravity_x + 0.05 * float(np.asarray(twin_info["robot_gyro"])[1])
            largest_shift = max(largest_shift, abs(shift))
            target = np.asarray(spec.pose) + spec.action_scale * action
            target[list(ANKLE_PITCH)] += shift
            torque = pd_torque(target, twin_obs[:12], twin_obs[12:24], kp, kd, held.low, held.high)
            twin_obs, _, t_term, t_trunc, twin_info = twin.step(torque)
            if t_term or t_trunc:
                break
        obs, _, terminated, truncated, _ = held.step(action)
        np.testing.assert_array_equal(obs, twin_obs)
        if terminated or truncated:
            break
    assert largest_shift > 0.01  # the robot tilted and swayed: the feedback was at work


def test_a_zero_action_with_balance_stands_through_truncation():
    """Measured: the pose alone tips forward and falls at env step 576; ankle feedback of 2 rad
    per unit of forward tilt and 0.05 per rad/s keeps it up to truncation (5000 env steps)."""
    spec = pd(decimation=10, pd_balance="2,0.05", obs="features")
    env = make_task_env(GOALIE, 0, "features", control=spec)
    env.reset(seed=0)
    env_steps = 0
    while True:
        _, _, terminated, truncated, info = env.step(np.zeros(12))
        env_steps += info["env_steps"]
        if terminated or truncated:
            break
    assert truncated and not terminated
    assert env_steps == 5000
