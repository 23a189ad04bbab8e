"""Checkpoints: everything a run needs to continue as if nothing happened, written atomically.

A checkpoint is a folder `checkpoints/step_<N>/` holding safetensors files (nets, optimiser
moments, the replay buffer's filled rows, the torch RNG state) and `state.json` (counters, the
numpy RNG state, param groups). It is written under a temporary name, every file fsynced, then
renamed: a kill at any moment leaves either the previous checkpoint or the new one, never half
of one. `checkpoints/latest` names the newest. Nothing is unpickled on load.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from soccer_td3.agent.replay import ReplayBuffer
from soccer_td3.agent.td3 import TD3Learner
from soccer_td3.errors import UserError
from soccer_td3.files import fsync_path, read_text

NETS = ("actor", "critic", "actor_target", "critic_target")
OPTIMIZERS = ("actor_optimizer", "critic_optimizer")
FILES = ("nets.safetensors", "optim.safetensors", "buffer.safetensors", "state.json")


@dataclass
class Checkpoint:
    path: Path
    nets: dict[str, torch.Tensor]
    optim: dict[str, torch.Tensor]
    buffer: dict[str, torch.Tensor]
    state: dict[str, Any]


def _optimizer_tensors(name: str, optimizer: torch.optim.Optimizer) -> tuple[dict, list]:
    state = optimizer.state_dict()
    tensors = {
        f"{name}.{index}.{key}": value.detach().cpu().contiguous()
        for index, moments in state["state"].items()
        for key, value in moments.items()
    }
    return tensors, state["param_groups"]


def checkpoint_bytes(learner: TD3Learner, buffer: ReplayBuffer) -> int:
    """Roughly what a checkpoint takes on disk: filled buffer rows + 4 nets + Adam moments."""
    row_bytes = buffer.storage.shape[1] * 4
    params = sum(p.numel() for p in [*learner.actor.parameters(), *learner.critic.parameters()])
    return len(buffer) * row_bytes + params * 4 * 6 + (1 << 20)


def save_checkpoint(
    run_dir: Path,
    step: int,
    learner: TD3Learner,
    buffer: ReplayBuffer,
    counters: dict[str, Any],
    keep: int = 2,
) -> Path:
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    remove_unfinished(root)
    need, free = checkpoint_bytes(learner, buffer), shutil.disk_usage(root).free
    if free < need:
        raise UserError(
            f"not enough disk for the step {step} checkpoint ({need / 1e9:.2f} GB needed, "
            f"{free / 1e9:.2f} GB free); {kept(run_dir)}"
        )
    try:
        return _write_checkpoint(root, step, learner, buffer, counters, keep)
    except (OSError, SafetensorError) as exc:  # the disk filled up while writing
        remove_unfinished(root)
        reason = getattr(exc, "strerror", None) or str(exc)
        if "No space left" in str(exc):
            reason = "No space left on device"
        raise UserError(
            f"cannot write the step {step} checkpoint ({reason}); {kept(run_dir)}"
        ) from None


def kept(run_dir: Path) -> str:
    """What a failed checkpoint leaves, and what to do: for the end of an error line."""
    if has_checkpoint(run_dir):
        return (
            f"the previous checkpoint is kept. Free some space and resume with: soccer-td3 "
            f"train --resume {run_dir}"
        )
    return "the run has no checkpoint yet. Free some space and train again"


def remove_unfinished(root: Path) -> None:
    """Temporary checkpoint folders a stop mid-write left (a second Ctrl-C, a kill, a full
    disk): never a checkpoint, and as large as the replay buffer."""
    for unfinished in root.glob(".tmp_step_*"):
        shutil.rmtree(unfinished, ignore_errors=True)
    (root / ".latest.tmp").unlink(missing_ok=True)


def abandon_unfinished(run_dir: Path) -> str:
    """For a stop that cannot wait (a second Ctrl-C): remove a half-written checkpoint and say
    where the last complete one is."""
    remove_unfinished(run_dir / "checkpoints")
    if not has_checkpoint(run_dir):
        return "the run had no checkpoint yet"
    return (
        f"the last complete checkpoint is {find_checkpoint(run_dir)}; resume with: soccer-td3 "
        f"train --resume {run_dir}"
    )


def _write_checkpoint(
    root: Path,
    step: int,
    learner: TD3Learner,
    buffer: ReplayBuffer,
    counters: dict[str, Any],
    keep: int,
) -> Path:
    final, tmp = root / f"step_{step}", root / f".tmp_step_{step}"
    tmp.mkdir()
    nets = {
        f"{name}.{key}": value.detach().cpu().contiguous()
        for name in NETS
        for key, value in getattr(learner, name).state_dict().items()
    }
    optim, groups = {}, {}
    for name in OPTIMIZERS:
        tensors, groups[name] = _optimizer_tensors(name, getattr(learner, name))
        optim |= tensors
    save_file(nets, str(tmp / "nets.safetensors"))
    save_file(optim, str(tmp / "optim.safetensors"))
    save_file(
        {
            "rows": buffer.storage[: len(buffer)].cpu().contiguous(),
            "torch_rng": torch.get_rng_state(),
        },
        str(tmp / "buffer.safetensors"),
    )
    state = {
        **counters,
        "step": step,
        "n_updates": learner.n_updates,
        "buffer_pos": buffer.pos,
        "buffer_size": len(buffer),
        "param_groups": groups,
    }
    (tmp / "state.json").write_text(json.dumps(state))
    for name in FILES:
        fsync_path(tmp / name)
    fsync_path(tmp)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    pointer = root / ".latest.tmp"
    pointer.write_text(final.name)
    fsync_path(pointer)
    pointer.rename(root / "latest")
    fsync_path(root)
    steps = sorted(int(p.name.removeprefix("step_")) for p in root.glob("step_*"))
    for old in steps[:-keep]:
        shutil.rmtree(root / f"step_{old}", ignore_errors=True)
    return final


def has_checkpoint(run_dir: Path) -> bool:
    """Whether a run folder can be resumed (what find_checkpoint looks for first)."""
    return (run_dir / "checkpoints" / "latest").is_file()


def read_pointer(pointer: Path) -> Path:
    """The checkpoint a `latest` file names: a `step_<N>` folder beside it, nothing else (a
    pointer holding `../../other/...` would lead into another run's folder)."""
    instead = f"resume from a {pointer.parent}/step_<N> folder instead"
    name = read_text(pointer, "checkpoint pointer", instead).strip()
    if not re.fullmatch(r"step_\d+", name):
        raise UserError(
            f"{pointer} names {name[:60]!r}, not a step_<N> checkpoint of its own run; resume "
            f"from a {pointer.parent}/step_<N> folder instead"
        )
    return pointer.parent / name


def find_checkpoint(path: Path) -> Path:
    """A checkpoint folder, or a run folder / its checkpoints/ whose `latest` names one."""
    if not path.exists():
        raise UserError(f"--resume {path} does not exist; pass a run folder or a checkpoint")
    for root in (path / "checkpoints", path):
        if (root / "latest").is_file():
            return read_pointer(root / "latest")
    if (path / "state.json").exists():
        return path
    raise UserError(f"{path} holds no checkpoint (no checkpoints/latest); it cannot be resumed")


def run_folder(checkpoint: Checkpoint) -> Path:
    """The run a checkpoint belongs to: checkpoints/step_<N> sits two levels down."""
    return checkpoint.path.parent.parent


def load_checkpoint(path: Path) -> Checkpoint:
    folder = find_checkpoint(path)
    try:
        state = json.loads((folder / "state.json").read_text())
        nets = load_file(str(folder / "nets.safetensors"))
        optim = load_file(str(folder / "optim.safetensors"))
        buffer = load_file(str(folder / "buffer.safetensors"))
    except (OSError, ValueError, SafetensorError) as exc:
        raise UserError(
            f"checkpoint {folder} is unreadable ({exc.__class__.__name__}: {exc}); resume from "
            "an earlier checkpoints/step_<N> folder"
        ) from None
    return Checkpoint(folder, nets, optim, buffer, state)


def _net_state(checkpoint: Checkpoint, name: str, module: torch.nn.Module) -> dict:
    """The checkpoint's tensors for `module`, each checked against the module's shape."""
    prefix = f"{name}."
    state = {k.removeprefix(prefix): v for k, v in checkpoint.nets.items() if k.startswith(prefix)}
    for key, tensor in module.state_dict().items():
        got = state.get(key)
        if got is None or got.shape != tensor.shape:
            shape = None if got is None else list(got.shape)
            raise UserError(
                f"checkpoint {checkpoint.path} has {name} {key} of shape {shape}, but this "
                f"run needs {list(tensor.shape)}: it was made with another --net, --env or "
                "--obs; resume with the run's own config.yaml"
            )
    return state


def check_compatible(
    checkpoint: Checkpoint, actor: torch.nn.Module, critic: torch.nn.Module
) -> None:
    """Fail before anything is written when the run's networks cannot hold the checkpoint."""
    _net_state(checkpoint, "actor", actor)
    _net_state(checkpoint, "critic", critic)


def restore(checkpoint: Checkpoint, learner: TD3Learner, buffer: ReplayBuffer) -> None:
    """Put weights, optimiser moments, buffer rows and the torch RNG back, checking shapes."""
    for name in NETS:
        module = getattr(learner, name)
        module.load_state_dict(_net_state(checkpoint, name, module))
    for name in OPTIMIZERS:
        optimizer = getattr(learner, name)
        prefix = f"{name}."
        moments: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in checkpoint.optim.items():
            if key.startswith(prefix):
                index, field = key.removeprefix(prefix).split(".", 1)
                moments.setdefault(int(index), {})[field] = value
        groups = checkpoint.state["param_groups"][name]
        optimizer.load_state_dict({"state": moments, "param_groups": groups})
    rows = checkpoint.buffer["rows"]
    if rows.shape[1] != buffer.storage.shape[1] or rows.shape[0] > buffer.capacity:
        raise UserError(
            f"checkpoint {checkpoint.path} holds a replay buffer of {list(rows.shape)} rows x "
            f"fields; this run's holds {list(buffer.storage.shape)}; resume with its config.yaml"
        )
    buffer.storage[: rows.shape[0]] = rows.to(buffer.device)
    buffer.size = checkpoint.state["buffer_size"]
    buffer.pos = checkpoint.state["buffer_pos"]
    learner.n_updates = checkpoint.state["n_updates"]
    torch.set_rng_state(checkpoint.buffer["torch_rng"])


def check_resumable(checkpoint: Checkpoint, config, run_dir: Path) -> None:
    """Refuse, before anything is written, a resume that cannot continue: a run already at its
    --timesteps, a smaller --timesteps, or a buffer_size below the rows the checkpoint holds."""
    step, rows = checkpoint.state["step"], checkpoint.state["buffer_size"]
    if config.run.timesteps <= step:
        raise UserError(
            f"{run_dir} is complete to step {step} (its checkpoint), and --timesteps "
            f"{config.run.timesteps} asks for no more; to train it further resume with a larger "
            f"--timesteps, e.g. soccer-td3 train --resume {run_dir} --timesteps {2 * step}"
        )
    if rows > min(config.td3.buffer_size, config.run.timesteps):
        raise UserError(
            f"checkpoint {checkpoint.path} holds {rows} replay transitions, more than "
            f"buffer_size {config.td3.buffer_size}; resume with buffer_size of at least {rows}"
        )
