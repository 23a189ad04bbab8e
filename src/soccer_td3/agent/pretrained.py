"""Pre-trained starts: actor (and critic, when present) weights from a soccer_td3 weight file or
a stable-baselines3 TD3 .zip, checked against the run's networks before anything trains.

An SB3 .zip is a zip archive whose `policy.pth` is a plain state_dict saved with torch.save; it
is read with `torch.load(..., weights_only=True)`, so nothing in it is unpickled as code. Its keys
map onto ours one to one: SB3's `actor.mu` Sequential and our `Actor.net` put the Linear layers at
the same indices, and `critic.qf0`/`qf1` are our `TwinCritic.q_nets[0]`/`[1]`.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from soccer_td3.agent.networks import Actor, TwinCritic
from soccer_td3.agent.weights import ACTOR_FILE, CRITIC_FILE, read_weight_file
from soccer_td3.errors import UserError

ACTION_BOUNDS = ("action_scale", "action_bias")


@dataclass
class PretrainedWeights:
    source: str
    actor: dict[str, Tensor]
    critic: dict[str, Tensor] | None


def _from_sb3_zip(path: Path) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
    try:
        with zipfile.ZipFile(path) as archive:
            if "policy.pth" not in archive.namelist():
                raise UserError(
                    f"{path} is a zip without policy.pth, so not a stable-baselines3 model; "
                    "pass a TD3 model saved with model.save() or a soccer_td3 weight file"
                )
            raw = archive.read("policy.pth")
    except zipfile.BadZipFile:
        raise UserError(f"{path} is not a readable zip archive; pass an SB3 .zip") from None
    try:
        # A raw pickle makes torch warn ("Detected pickle protocol 4", three lines) before it
        # refuses: the refusal below is the one line the user gets.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for bad or unsafe pickles
        raise UserError(
            f"{path}: policy.pth is not a plain state_dict ({exc.__class__.__name__})"
        ) from None
    actor = {
        "net." + key.removeprefix("actor.mu."): value
        for key, value in state.items()
        if key.startswith("actor.mu.")
    }
    if not actor:
        raise UserError(
            f"{path} holds no TD3 actor (no actor.mu.* weights in policy.pth); "
            "it is not a stable-baselines3 TD3 model"
        )
    critic = {
        "q_nets." + key.removeprefix("critic.qf"): value
        for key, value in state.items()
        if key.startswith(("critic.qf0.", "critic.qf1."))
    }
    return actor, critic or None


def _from_soccer_td3(path: Path) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
    """A weight file, a final/ (or best/) folder, or a run folder holding final/."""
    if path.is_dir():
        folder = path / "final" if (path / "final" / ACTOR_FILE).is_file() else path
        actor_path, critic_path = folder / ACTOR_FILE, folder / CRITIC_FILE
    else:
        actor_path, critic_path = path, path.with_name(CRITIC_FILE)
    actor, _ = read_weight_file(actor_path)
    critic = read_weight_file(critic_path)[0] if critic_path.is_file() else None
    return actor, critic


def read_pretrained(
    path: Path, template_actor: Actor, template_critic: TwinCritic
) -> PretrainedWeights:
    """Read and check weights against the run's own (freshly built) networks.

    Every weight must exist with the same shape. The actor's action bounds are not taken from
    the file (SB3 keeps them in its action space, not the network): the run's env sets them.
    """
    if not path.exists():
        raise UserError(
            f"--init-from {path} does not exist; pass a weight file, run folder or SB3 .zip"
        )
    if path.suffix == ".zip":
        actor, critic = _from_sb3_zip(path)
    else:
        actor, critic = _from_soccer_td3(path)
    for name, template in (("actor", template_actor), ("critic", template_critic)):
        state = actor if name == "actor" else critic
        if state is None:
            continue
        expected = {k: v for k, v in template.state_dict().items() if k not in ACTION_BOUNDS}
        for key in ACTION_BOUNDS:
            state.pop(key, None)
        normalised = ("obs_norm.mean" in state, "obs_norm.mean" in expected)
        if normalised[0] != normalised[1]:
            said = ("with", "without") if normalised[0] else ("without", "with")
            flag = "--obs-norm" if normalised[0] else "--no-obs-norm"
            raise UserError(
                f"{path}: its {name} was trained {said[0]} obs_norm and this run is {said[1]} "
                f"it, so its weights expect other inputs; train with {flag}"
            )
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        if missing or extra:
            raise UserError(
                f"{path}: the {name} layers differ from this run's "
                f"({len(state)} tensors vs {len(expected)}; e.g. "
                f"{(missing or extra)[0]}); train with the same --net as the file"
            )
        for key, tensor in expected.items():
            if state[key].shape != tensor.shape:
                raise UserError(
                    f"{path}: {name} {key} has shape {list(state[key].shape)} but this run "
                    f"needs {list(tensor.shape)}; match the file's --net, --env and --obs"
                )
    return PretrainedWeights(str(path), actor, critic)
