"""A trained actor's files, and the evaluation table and JSON `soccer-td3 evaluate` writes."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from soccer_td3.agent.networks import Actor
from soccer_td3.agent.weights import ACTOR_FILE, load_actor, read_weight_file
from soccer_td3.errors import UserError
from soccer_td3.files import write_text
from soccer_td3.training.evaluation import TaskResult


def find_actor_file(path: Path) -> Path:
    """A run folder (its final/), a weights folder, or the actor file itself."""
    candidates = [path] if path.is_file() else [path / "final" / ACTOR_FILE, path / ACTOR_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UserError(
        f"no weights at {path} (looked for {', '.join(map(str, candidates))}), and it is not a "
        "soccer-td3 export (no submission.json); pass a run folder that finished training, an "
        "actor.safetensors file, or a folder written by `soccer-td3 export`"
    )


def load_policy(path: Path) -> tuple[Actor, dict]:
    actor_file = find_actor_file(path)
    _, meta = read_weight_file(actor_file)
    return load_actor(actor_file), meta


def format_table(results: list[TaskResult]) -> str:
    lines = [
        f"{'task':30} {'episodes':>8} {'score':>15} {'goals':>6} {'touched':>7} {'fell':>5} "
        f"{'closer':>6} {'length':>6} {'return':>17}"
    ]
    for r in results:
        lines.append(
            f"{r.task:30} {r.episodes:>8} {r.score_mean:7.3f} ± {r.score_std:5.3f} "
            f"{r.success_rate:6.0%} {r.touch_rate:7.0%} {r.fall_rate:5.0%} {r.closer_rate:6.0%} "
            f"{r.length_mean:6.0f} {r.return_mean:9.2f} ± {r.return_std:5.2f}"
        )
    lines.append(
        "goals: goals scored (kick-to-target: the ball on its target); touched: the ball moved; "
        "closer: the ball ended over 0.1 m nearer its goal or target"
    )
    for path in dict.fromkeys(r.path for r in results):
        lines.append(f"played through: {path}")
    for r in results:
        if not r.independent_episodes:
            lines.append(
                f"note: {r.task} starts from the same state whatever the seed, so a deterministic "
                f"policy plays one episode {r.episodes} times (std 0 is that, not a consensus); "
                "--noise SIGMA evaluates a noisy policy for a spread"
            )
    return "\n".join(lines)


def write_json(results: list[TaskResult], path: Path) -> None:
    write_text(path, json.dumps([asdict(r) for r in results], indent=2))
