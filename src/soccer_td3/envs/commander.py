"""What the commander (the TD3 actor over walking commands) sees, and the walking skill's inputs.

The command is a velocity in the robot's heading frame (forward, left, yaw rate), while
sai_mujoco's `info` gives world-frame vectors relative to the robot. So every vector here is
turned by minus the robot's yaw: "the ball is 2 m ahead and 0.3 m to the left" whatever way the
robot faces. Measured facts behind the fields (sai-mujoco 0.1.30):
- the robot starts facing -x on the penalty tasks; goal_team_0 sits at world (-length, 0), and
  the team one-hot [1, 0] attacks it;
- `defender_xpos` holds world positions (not relative ones) of the obstacle task's three
  defenders, which stand on the goal line; tasks without defenders repeat the robot's own
  position there, which this module turns into zeros;
- the keeper of the attacked goal is goalkeeper_team_0 (team [1, 0]) on the goalie task; tasks
  without a keeper report zeros;
- on the obstacle task `target_xpos_rel_robot` is the scoring spot between the defenders (a goal
  is the ball within 0.3 m of it); on kick-to-target the target; on goalie nothing (zeros), and
  the goal's centre is the target.

Shipped verbatim in a submission's preprocessor after envs/observation.py, whose
projected_gravity and FEATURE_TASKS it uses: numpy only, no `from __future__`, and its import
line may be deleted by the SAI SDK's loader without harm.
"""

import numpy as np

from soccer_td3.envs.observation import FEATURE_TASKS, projected_gravity

N_SKILL_JOINTS = 12
# (name, width) of the commander's vector, in order.
COMMANDER_FIELDS = (
    ("ball", 2),
    ("ball_velocity", 2),
    ("target", 2),
    ("keeper", 2),
    ("keeper_velocity", 2),
    ("defenders", 6),
    ("own_velocity", 2),
    ("yaw_rate", 1),
    ("heading", 2),
    ("field_position", 2),
    ("gravity", 3),
    ("task", len(FEATURE_TASKS)),
)


def _slices(fields):
    table, start = {}, 0
    for name, width in fields:
        table[name] = slice(start, start + width)
        start += width
    return table, start


COMMANDER_SLICES, COMMANDER_SIZE = _slices(COMMANDER_FIELDS)
# The submission model's input: the commander's vector, then what the skill reads at every
# physics step (joint positions and velocities, gravity and gyro in the torso frame).
SKILL_SLICES = {
    "joints": slice(COMMANDER_SIZE, COMMANDER_SIZE + 2 * N_SKILL_JOINTS),
    "gravity": slice(COMMANDER_SIZE + 2 * N_SKILL_JOINTS, COMMANDER_SIZE + 2 * N_SKILL_JOINTS + 3),
    "gyro": slice(COMMANDER_SIZE + 2 * N_SKILL_JOINTS + 3, COMMANDER_SIZE + 2 * N_SKILL_JOINTS + 6),
}
MODEL_INPUT_SIZE = COMMANDER_SIZE + 2 * N_SKILL_JOINTS + 6


def robot_yaw(quat_xyzw):
    """Heading of the torso about the vertical, radians (sai_mujoco's quaternion is x, y, z, w)."""
    x, y, z, w = (float(v) for v in quat_xyzw)
    return float(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))


def _field(info, key, width):
    value = info.get(key)
    if value is None:
        return np.zeros(width, np.float64)
    return np.asarray(value, np.float64).reshape(-1)[:width]


def commander_features(obs, info, task_id):
    """The commander's observation (COMMANDER_SIZE floats) from a task's step."""
    if task_id not in FEATURE_TASKS:
        raise ValueError(f"no commander layout for {task_id}; known: {', '.join(FEATURE_TASKS)}")
    yaw = robot_yaw(info["robot_quat"])
    cos_yaw, sin_yaw = np.cos(yaw), np.sin(yaw)

    def heading_frame(v):
        return np.array([cos_yaw * v[0] + sin_yaw * v[1], -sin_yaw * v[0] + cos_yaw * v[1]])

    attacks_team_0 = _field(info, "player_team", 2)[0] == 1
    goal_key = "goal_team_0_rel_robot" if attacks_team_0 else "goal_team_1_rel_robot"
    keeper = "goalkeeper_team_0" if attacks_team_0 else "goalkeeper_team_1"
    target = _field(info, "target_xpos_rel_robot", 3)
    if np.linalg.norm(target) < 1e-6:
        target = _field(info, goal_key, 3)
    # goal_team_0 is at world (-length, 0): the robot's world position from its offset to it.
    robot_xy = np.array([-float(info.get("length", 0.0)), 0.0]) - _field(
        info, "goal_team_0_rel_robot", 2
    )
    defenders = _field(info, "defender_xpos", 9).reshape(3, 3)[:, :2] - robot_xy
    defenders[np.linalg.norm(defenders, axis=1) < 1e-3] = 0.0  # the robot itself: no defender
    one_hot = np.zeros(len(FEATURE_TASKS))
    one_hot[FEATURE_TASKS.index(task_id)] = 1.0
    parts = [
        heading_frame(_field(info, "ball_xpos_rel_robot", 2)),
        heading_frame(_field(info, "ball_velp_rel_robot", 2)),
        heading_frame(target),
        heading_frame(_field(info, keeper + "_xpos_rel_robot", 2)),
        heading_frame(_field(info, keeper + "_velp_rel_robot", 2)),
        np.concatenate([heading_frame(d) for d in defenders]),
        _field(info, "robot_velocimeter", 2),  # torso frame: the heading frame while upright
        _field(info, "robot_gyro", 3)[2:],
        np.array([cos_yaw, sin_yaw]),
        robot_xy,
        projected_gravity(np.asarray(info["robot_quat"])),
        one_hot,
    ]
    return np.concatenate(parts).astype(np.float32)


def skill_inputs(obs, info):
    """What the walking skill reads at every physics step: joint positions and velocities,
    gravity and gyro in the torso frame (float32, as the submission's model receives them)."""
    return np.concatenate(
        [
            np.asarray(obs[: 2 * N_SKILL_JOINTS], np.float32),
            projected_gravity(np.asarray(info["robot_quat"])).astype(np.float32),
            np.asarray(info["robot_gyro"], np.float32).reshape(3),
        ]
    )


def model_input(obs, info, task_id):
    """A submission model's input row: the commander's vector, then the skill's inputs."""
    return np.concatenate([commander_features(obs, info, task_id), skill_inputs(obs, info)])
