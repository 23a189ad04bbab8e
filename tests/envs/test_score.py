import numpy as np
import pytest

from soccer_td3.envs.score import competition_score


def test_goalie_terminal_terms_by_hand():
    terms = {
        "robot_distance_ball": np.float32(0.4),
        "ball_vel_twd_goal": 0.2,
        "offside": np.False_,
        "ball_hits": 1.0,
        "robot_fallen": True,
        "goal_scored": False,
        "ball_blocked": True,
    }
    # 0.25*0.4 + 1.5*0.2 - 0.2*1 - 1.5*1 - 0.5*1 - 1 (steps) = 0.1 + 0.3 - 0.2 - 1.5 - 0.5 - 1
    assert competition_score("LowerT1GoaliePenaltyKick-v0", terms) == pytest.approx(-2.8)


def test_kick_to_target_terms_by_hand():
    terms = {"offside": False, "success": True, "distance": 0.3, "robot_distance_ball": 5.0}
    # 2*1 + 0.5*0.3 - 0.3 (steps); robot_distance_ball has no weight on this task
    assert competition_score("LowerT1KickToTarget-v0", terms) == pytest.approx(1.85)


def test_a_fall_scores_the_reference_figure():
    fallen = {"robot_fallen": True, "robot_distance_ball": 0.03}
    assert competition_score("LowerT1ObstaclePenaltyKick-v0", fallen) == pytest.approx(
        -2.49, abs=0.01
    )
