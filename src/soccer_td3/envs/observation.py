"""One observation for every soccer task: what a single agent (and a submission) sees.

The tasks' own observations differ in size and meaning (45, 39, 54, 39), so a multi-task agent
reads a fixed vector built from what all of them share: the joint positions and velocities in
`obs[:2 * n_joints]`, and the named fields of `info`. A field a task lacks is zeros, and a
one-hot of the task ends the vector. This file is what export ships as the submission's
preprocessor (copied verbatim, with a Preprocessor class appended), so training and submission
see identical inputs. It must therefore need nothing but numpy, and it must survive the SAI
SDK's loader, which deletes every import line and runs the rest with only `np` defined: so no
`from __future__`, no typing names in annotations, nothing but numpy.
"""

import numpy as np

# The competition's three tasks and the plain penalty kick, in a fixed order: the one-hot
# layout must not depend on which tasks a run trains on, or a model could not move between runs.
FEATURE_TASKS = (
    "LowerT1GoaliePenaltyKick-v0",
    "LowerT1ObstaclePenaltyKick-v0",
    "LowerT1KickToTarget-v0",
    "LowerT1PenaltyKick-v0",
)
N_JOINTS = 12  # Booster T1 lower body

# (info key, width), in vector order. Positions and velocities as sai_mujoco reports them.
INFO_FIELDS: tuple[tuple[str, int], ...] = (
    ("robot_gyro", 3),
    ("robot_accelerometer", 3),
    ("robot_velocimeter", 3),
    ("goal_team_0_rel_robot", 3),
    ("goal_team_1_rel_robot", 3),
    ("goal_team_0_rel_ball", 3),
    ("goal_team_1_rel_ball", 3),
    ("ball_xpos_rel_robot", 3),
    ("ball_velp_rel_robot", 3),
    ("ball_velr_rel_robot", 3),
    ("goalkeeper_team_0_xpos_rel_robot", 3),
    ("goalkeeper_team_0_velp_rel_robot", 3),
    ("goalkeeper_team_1_xpos_rel_robot", 3),
    ("goalkeeper_team_1_velp_rel_robot", 3),
    ("target_xpos_rel_robot", 3),
    ("target_velp_rel_robot", 3),
    ("defender_xpos", 9),
    ("player_team", 2),
)
GRAVITY_SLICE = slice(2 * N_JOINTS, 2 * N_JOINTS + 3)
GYRO_SLICE = slice(GRAVITY_SLICE.stop, GRAVITY_SLICE.stop + 3)  # robot_gyro: INFO_FIELDS' first
FEATURE_SIZE = 2 * N_JOINTS + 3 + sum(width for _, width in INFO_FIELDS) + len(FEATURE_TASKS)


def projected_gravity(quat_xyzw: np.ndarray) -> np.ndarray:
    """World gravity (0, 0, -1) in the robot's frame: (0, 0, -1) upright, tilts as it falls.

    sai_mujoco's `robot_quat` is (x, y, z, w): it reorders MuJoCo's (w, x, y, z) torso sensor.
    """
    q_vec, q_w = np.asarray(quat_xyzw[:3], dtype=np.float64), float(quat_xyzw[3])
    v = np.array([0.0, 0.0, -1.0])
    # Rotate v by the inverse of q: v (2w^2 - 1) - 2w (q x v) + 2 q (q . v)
    return v * (2.0 * q_w**2 - 1.0) - 2.0 * q_w * np.cross(q_vec, v) + 2.0 * q_vec * q_vec.dot(v)


def features(obs: np.ndarray, info: dict, task_id: str) -> np.ndarray:
    """The task-independent observation vector (FEATURE_SIZE floats)."""
    if task_id not in FEATURE_TASKS:
        raise ValueError(f"no feature layout for {task_id}; known: {', '.join(FEATURE_TASKS)}")
    parts = [np.asarray(obs[: 2 * N_JOINTS], dtype=np.float32)]
    parts.append(projected_gravity(np.asarray(info["robot_quat"])).astype(np.float32))
    for key, width in INFO_FIELDS:
        value = info.get(key)
        part = np.zeros(width, np.float32) if value is None else np.asarray(value, np.float32)
        parts.append(part.reshape(width))
    one_hot = np.zeros(len(FEATURE_TASKS), np.float32)
    one_hot[FEATURE_TASKS.index(task_id)] = 1.0
    parts.append(one_hot)
    return np.concatenate(parts)
