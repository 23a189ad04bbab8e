"""The Booster Soccer Showdown's score of an episode.

The competition scores an episode at its last step only: a weighted sum of that step's reward
terms, which the env reports in `info["reward_terms"]` on every step. The scorer adds a
`steps` term equal to 1 (the envs report none). The weights are the competition's published
evaluation weights, as the seed's issue tracker quotes them (issue 6 of this project); the
plain LowerT1PenaltyKick-v0, not a competition task, is scored with the penalty-kick weights.
Reference points measured with this rule: a robot that falls scores about -2.49 on goalie and
obstacle, -0.28 on kick to target; one that stands until truncation about -0.99.
"""

from __future__ import annotations

from collections.abc import Mapping

PENALTY_KICK_WEIGHTS = {
    "robot_distance_ball": 0.25,
    "ball_vel_twd_goal": 1.5,
    "goal_scored": 2.5,
    "offside": -3.0,
    "ball_hits": -0.2,
    "robot_fallen": -1.5,
    "ball_blocked": -0.5,
    "steps": -1.0,
}
KICK_TO_TARGET_WEIGHTS = {
    "offside": -1.0,
    "success": 2.0,
    "distance": 0.5,
    "steps": -0.3,
}
COMPETITION_WEIGHTS: dict[str, dict[str, float]] = {
    "LowerT1GoaliePenaltyKick-v0": PENALTY_KICK_WEIGHTS,
    "LowerT1ObstaclePenaltyKick-v0": PENALTY_KICK_WEIGHTS,
    "LowerT1PenaltyKick-v0": PENALTY_KICK_WEIGHTS,
    "LowerT1KickToTarget-v0": KICK_TO_TARGET_WEIGHTS,
}


def competition_score(task_id: str, reward_terms: Mapping[str, object]) -> float:
    """Score of an episode from the reward terms of its last step."""
    weights = COMPETITION_WEIGHTS.get(task_id)
    if weights is None:
        raise ValueError(
            f"no competition score for {task_id}; known: {', '.join(COMPETITION_WEIGHTS)}"
        )
    terms = {**reward_terms, "steps": 1.0}
    return float(sum(weight * float(terms.get(key, 0.0)) for key, weight in weights.items()))
