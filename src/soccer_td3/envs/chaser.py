"""The scripted chaser: walk behind the ball on its line to the target, turn to face that line,
then walk through the ball. Torch on the commander's vector (envs/commander.py), batched, so the
same function is the `--policy chaser` baseline, the `prior: chaser` that a learned action adds
to, and part of an exported submission.

Its gains were set on LowerT1GoaliePenaltyKick-v0, where walking through the ball scores; its
failures (a defender in the way, a far target) are what the learned commander is for.
"""

from __future__ import annotations

import torch
from torch import Tensor

from soccer_td3.envs.commander import COMMANDER_SLICES

BEHIND = 0.45  # m behind the ball on the ball-target line: where the run-up starts
LINE_TOLERANCE = 0.15  # m off the line, and...
HEADING_TOLERANCE = 0.35  # ...rad off its direction, within which the chaser strikes
# Metres left of the goal's centre to aim at when the goal has a keeper. Measured on the goalie
# task (one deterministic episode each): aimed at the centre the ball hits the keeper (score
# 1.55); 0.5 m right scores at 4.1 s (6.32), 0.5 m left at 4.3 s (6.08); 0.8 m either side
# is blocked (-0.61, -1.15).
KEEPER_AIM = -0.5


def _angle(v: Tensor) -> Tensor:
    return torch.atan2(v[:, 1], v[:, 0])


def _wrap(angle: Tensor) -> Tensor:
    return torch.atan2(torch.sin(angle), torch.cos(angle))


def chaser_command(features: Tensor) -> Tensor:
    """(B, COMMANDER_SIZE) commander vectors -> (B, 3) commands: forward m/s, left m/s, yaw
    rad/s, before any clipping to a command range."""
    ball = features[:, COMMANDER_SLICES["ball"]]
    target = features[:, COMMANDER_SLICES["target"]]
    # With a keeper, aim beside the goal's centre, where it stands at rest (see KEEPER_AIM).
    has_keeper = features[:, COMMANDER_SLICES["keeper"]].norm(dim=1, keepdim=True) > 1e-6
    to_goal = target / target.norm(dim=1, keepdim=True).clamp_min(1e-6)
    goal_left = torch.stack([-to_goal[:, 1], to_goal[:, 0]], dim=1)
    target = target + has_keeper * KEEPER_AIM * goal_left
    line = target - ball
    direction = line / line.norm(dim=1, keepdim=True).clamp_min(1e-6)
    normal = torch.stack([-direction[:, 1], direction[:, 0]], dim=1)
    robot_from_ball = -ball  # the robot is the frame's origin
    along = (robot_from_ball * direction).sum(dim=1)
    across = (robot_from_ball * normal).sum(dim=1)
    line_heading = _angle(direction)  # the robot faces +x: this is the heading error to the line

    # Run-up: a point behind the ball, stepping round it first when the robot is on its far side.
    waypoint = ball - BEHIND * direction
    in_front = (along > 0.0) & (across.abs() < 0.4)
    side = torch.where(across >= 0, 1.0, -1.0).unsqueeze(1)
    waypoint = waypoint + in_front.unsqueeze(1) * side * 0.6 * normal
    distance = waypoint.norm(dim=1)
    heading_error = torch.where(distance > 0.4, _angle(waypoint), line_heading)
    approach = torch.stack(
        [
            (1.2 * waypoint[:, 0]).clamp(-0.4, 0.9) * torch.cos(heading_error).clamp_min(0.2),
            (1.2 * waypoint[:, 1]).clamp(-0.5, 0.5),
            (1.5 * _wrap(heading_error)).clamp(-1.0, 1.0),
        ],
        dim=1,
    )
    # Strike: on the line behind the ball and facing along it: walk through the ball.
    lined_up = (
        (along < 0.1)
        & (across.abs() < LINE_TOLERANCE)
        & (_wrap(line_heading).abs() < HEADING_TOLERANCE)
    )
    strike = torch.stack(
        [
            torch.ones_like(along),
            (-2.0 * across * torch.cos(line_heading)).clamp(-0.3, 0.3),
            (2.0 * _wrap(line_heading)).clamp(-1.0, 1.0),
        ],
        dim=1,
    )
    return torch.where(lined_up.unsqueeze(1), strike, approach)
