"""TrainConfig -> what the learner is built with: the one place the settings cross over.

The TD3 numbers, the speed switches and the red-flag limits each have one source, the config;
the dataclasses they fill have no defaults of their own, so a switch cannot be dropped on the
way (as `--precision` and `--compile` once were) without a TypeError.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import torch

from soccer_td3.agent.td3 import Acceleration, TD3Hyperparams, TD3Learner
from soccer_td3.config import TrainConfig
from soccer_td3.cores import cpu_flags
from soccer_td3.errors import UserError
from soccer_td3.training.redflags import RedFlagThresholds


@dataclass(frozen=True)
class LearnerSettings:
    hp: TD3Hyperparams
    acceleration: Acceleration
    redflags: RedFlagThresholds


def td3_hyperparams(config: TrainConfig) -> TD3Hyperparams:
    """The update's numbers; their field names are also stable-baselines3 TD3's keywords, but
    actor_l2, which SB3 lacks."""
    return TD3Hyperparams(
        gamma=config.td3.gamma,
        tau=config.td3.tau,
        policy_delay=config.td3.policy_delay,
        target_policy_noise=config.td3.target_policy_noise,
        target_noise_clip=config.td3.target_noise_clip,
        actor_l2=config.td3.actor_l2,
    )


def learner_settings(config: TrainConfig) -> LearnerSettings:
    return LearnerSettings(
        hp=td3_hyperparams(config),
        acceleration=Acceleration(precision=config.speed.precision, compile=config.speed.compile),
        redflags=RedFlagThresholds(
            window=config.run.redflag_window,
            loss_growth=config.run.redflag_loss_growth,
            q_limit=config.run.redflag_q_limit,
            min_fps=config.run.redflag_min_fps,
        ),
    )


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
    return torch.device(requested)


def build_learner(config: TrainConfig, obs_dim: int, act_dim: int, low, high, device) -> TD3Learner:
    settings = learner_settings(config)
    return TD3Learner.build(
        obs_dim,
        act_dim,
        low,
        high,
        config.networks.actor_net,
        config.networks.critic_net,
        settings.hp,
        settings.acceleration,
        learning_rate=config.td3.learning_rate,
        activation=config.networks.activation,
        device=device,
        obs_norm_clip=config.networks.obs_norm_clip if config.networks.obs_norm else None,
        actor_last_layer_init=config.networks.actor_last_layer_init,
    )


def native_bf16(flags: set[str]) -> bool:
    """bf16 products in hardware: AVX512-BF16 (Zen 4, Cooper Lake) or AMX (Sapphire Rapids).
    Without them bf16 is emulated with fp32 arithmetic plus conversions: slower than fp32."""
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def precision_warning(config: TrainConfig, flags: set[str] | None = None) -> str | None:
    """One line when bf16 is asked for on a CPU that would emulate it."""
    if config.speed.precision != "bf16" or resolve_device(config.speed.device).type != "cpu":
        return None
    if native_bf16(cpu_flags() if flags is None else flags):
        return None
    return (
        "WARNING: --precision bf16 on a CPU without native bf16 (no avx512_bf16, no AMX): "
        "the products are emulated and the run will be slower than fp32 (README, Performance)"
    )


def mlp_parameters(in_dim: int, hidden: list[int], out_dim: int) -> int:
    dims = [in_dim, *hidden, out_dim]
    return sum(a * b + b for a, b in pairwise(dims))


def memory_needed(config: TrainConfig) -> int:
    """Bytes the learner and the replay buffer will take, before any of it is allocated: each
    network's weights four times over (online, target, gradient, two Adam moments less the
    target's), a batch's activations, and the buffer's rows (obs, action, reward, next obs,
    done) in fp32."""
    obs, act = config.environment.observation_size, config.environment.action_size
    actor = mlp_parameters(obs, config.networks.actor_net, act)
    critic = 2 * mlp_parameters(obs + act, config.networks.critic_net, 1)
    weights = 5 * 4 * (actor + critic)
    activations = (
        4
        * 4
        * config.td3.batch_size
        * (sum(config.networks.actor_net) + 2 * sum(config.networks.critic_net))
    )
    rows = min(config.td3.buffer_size, config.run.timesteps)
    return weights + activations + 4 * rows * (2 * obs + act + 2)


def available_memory() -> int | None:
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def check_memory(config: TrainConfig, device: torch.device) -> None:
    need, free = memory_needed(config), available_memory()
    if device.type == "cuda":
        free = torch.cuda.mem_get_info()[0]
    if free is not None and need > free:
        raise UserError(
            f"the networks and the replay buffer need about {need / 1e9:.1f} GB of memory, but "
            f"this machine has {free / 1e9:.1f} GB available; use smaller --net / --actor-net / "
            "--critic-net or --buffer-size"
        )
