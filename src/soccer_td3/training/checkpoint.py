"""Checkpoints: everything a run needs to continue as if nothing happened, written atomically.

A checkpoint is a folder `checkpoints/step_<N>/` holding safetensors files (nets, optimiser
moments, the replay buffer's filled rows, the torch RNG state) and `state.json` (counters, the
numpy RNG state, param groups). It is written under a temporary name, every file fsynced, then
renamed: a kill at any moment leaves either the previous checkpoint or the new one, never half
of one. `checkpoints/latest` names the newest. Nothing is unpickled on load.
"""

from __future__ import annotations

import json
import os
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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    need, free = checkpoint_bytes(learner, buffer), shutil.disk_usage(root).free
    if free < need:
        raise UserError(
            f"not enough disk for the step {step} checkpoint ({need / 1e9:.2f} GB needed, "
            f"{free / 1e9:.2f} GB free); the previous checkpoint is kept. Free some space and "
            f"resume with: soccer-td3 train --resume {run_dir}"
        )
    final, tmp = root / f"step_{step}", root / f".tmp_step_{step}"
    shutil.rmtree(tmp, ignore_errors=True)
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
        _fsync(tmp / name)
    _fsync(tmp)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    pointer = root / ".latest.tmp"
    pointer.write_text(final.name)
    _fsync(pointer)
    pointer.rename(root / "latest")
    _fsync(root)
    steps = sorted(int(p.name.removeprefix("step_")) for p in root.glob("step_*"))
    for old in steps[:-keep]:
        shutil.rmtree(root / f"step_{old}", ignore_errors=True)
    return final


def has_checkpoint(run_dir: Path) -> bool:
    """Whether a run folder can be resumed (what find_checkpoint looks for first)."""
    return (run_dir / "checkpoints" / "latest").is_file()


def find_checkpoint(path: Path) -> Path:
    """A checkpoint folder, or a run folder / its checkpoints/ whose `latest` names one."""
    if not path.exists():
        raise UserError(f"--resume {path} does not exist; pass a run folder or a checkpoint")
    for root in (path / "checkpoints", path):
        if (root / "latest").is_file():
            return root / (root / "latest").read_text().strip()
    if (path / "state.json").exists():
        return path
    raise UserError(f"{path} holds no checkpoint (no checkpoints/latest); it cannot be resumed")


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
    if config.timesteps <= step:
        raise UserError(
            f"{run_dir} is complete to step {step} (its checkpoint), and --timesteps "
            f"{config.timesteps} asks for no more; to train it further resume with a larger "
            f"--timesteps, e.g. soccer-td3 train --resume {run_dir} --timesteps {2 * step}"
        )
    if rows > min(config.buffer_size, config.timesteps):
        raise UserError(
            f"checkpoint {checkpoint.path} holds {rows} replay transitions, more than "
            f"buffer_size {config.buffer_size}; resume with buffer_size of at least {rows}"
        )
