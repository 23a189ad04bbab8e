"""Weight files: safetensors with the shapes and arch they need recorded in their metadata.

Nothing is unpickled: a weight file handed to us by a user can only hold tensors and strings.
A file names its observation and action sizes, so a mismatch is an error naming both shapes
rather than a silent wrong load.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from soccer_td3.agent.networks import Actor, TwinCritic
from soccer_td3.errors import UserError
from soccer_td3.files import fsync_path, write_failed

ACTOR_FILE = "actor.safetensors"
CRITIC_FILE = "critic.safetensors"


def _metadata(net: Actor | TwinCritic, extra: dict[str, Any]) -> dict[str, str]:
    meta = {
        "obs_dim": net.obs_dim,
        "act_dim": net.act_dim,
        "hidden": net.hidden,
        "activation": net.activation,
        **extra,
    }
    return {key: json.dumps(value) for key, value in meta.items()}


def save_weights(folder: Path, actor: Actor, critic: TwinCritic, extra: dict[str, Any]) -> None:
    """Write actor and critic; `extra` (e.g. the task ids) goes into both files' metadata.

    Written beside the folder and renamed into place, so `folder` either holds both files of
    one moment or is left as it was: a stop mid-write never leaves a final/ or best/ that looks
    finished but is not (compare takes final/ as "this run is done")."""
    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        for net, name in ((actor, ACTOR_FILE), (critic, CRITIC_FILE)):
            tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
            save_file(tensors, str(staging / name), metadata=_metadata(net, extra))
            fsync_path(staging / name)
    except (OSError, SafetensorError) as exc:  # a full disk: the previous folder stays whole
        shutil.rmtree(staging, ignore_errors=True)
        raise write_failed(folder, exc) from None
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)


def read_weight_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if not path.is_file():
        raise UserError(f"weight file {path} does not exist; pass a path written by soccer-td3")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            raw_meta = handle.metadata() or {}
        tensors = load_file(str(path))
        meta = {key: json.loads(value) for key, value in raw_meta.items()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(
            f"{path} is not a readable safetensors weight file ({exc}): it is damaged or not one "
            "soccer-td3 wrote; pass a run's final/ or best/ folder, or train again"
        ) from None
    for key in ("obs_dim", "act_dim", "hidden", "activation"):
        if key not in meta:
            raise UserError(f"{path} lacks the {key!r} record soccer-td3 writes; it is not ours")
    return tensors, meta


def load_actor(
    path: Path, expect_obs_dim: int | None = None, expect_act_dim: int | None = None
) -> Actor:
    """Rebuild the actor a weight file describes; with expectations, check the sizes first."""
    tensors, meta = read_weight_file(path)
    got = (meta["obs_dim"], meta["act_dim"])
    want = (expect_obs_dim or got[0], expect_act_dim or got[1])
    if got != want:
        raise UserError(
            f"{path} is an actor for obs {got[0]} -> action {got[1]}, but this task needs "
            f"obs {want[0]} -> action {want[1]}; use weights trained on the same task(s)"
        )
    scale, bias = tensors["action_scale"], tensors["action_bias"]
    clip = float(tensors["obs_norm.clip"]) if "obs_norm.clip" in tensors else None
    actor = Actor(
        got[0], got[1], meta["hidden"], bias - scale, bias + scale, meta["activation"], clip
    )
    try:
        actor.load_state_dict(tensors)
    except RuntimeError as exc:
        raise UserError(f"{path} does not match the arch it records: {exc}") from None
    return actor
