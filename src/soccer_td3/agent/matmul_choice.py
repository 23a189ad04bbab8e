"""Which backend runs fp32 Linear products on this CPU: measured at the run's shapes, not assumed.

Neither wins on every machine this project has run on (docs/design.md, "Measured"), and the
CPU model string ("AMD EPYC") is the same on all of them. So `cpu_matmul: auto` times real
updates of the run's own networks with each backend, alternating so that drift hits both
alike, and caches the answer by CPU identity, torch version, thread count and shapes.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from soccer_td3.agent.onednn_linear import onednn_available, set_onednn
from soccer_td3.agent.replay import ReplayBatch
from soccer_td3.agent.td3 import TD3Learner
from soccer_td3.cores import cpu_sample, others_usage

BACKENDS = ("onednn", "blas")
BUSY_CORES = 0.5  # other processes' use during the measurement above which it is not cached
ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
# Part of every cache key: entries of an earlier way of measuring are not read (v1 timed the
# first update after each switch, see measure; v2 timed autograd updates, before fp32 ones
# took the hand-written gradients).
MEASUREMENT = "v3"


@dataclass(frozen=True)
class MatmulChoice:
    backend: str
    ms_per_update: dict[str, float]
    source: str  # "measured" | "cached" | "measured on busy cores"

    def line(self, cache: Path) -> str:
        times = ", ".join(f"{b} {ms:.2f} ms" for b, ms in self.ms_per_update.items())
        if self.source == "measured on busy cores":
            where = "measured now while other processes were busy: not cached"
        else:
            where = "measured now" if self.source == "measured" else "measured earlier"
            where += f"; cached in {cache}, delete it to measure again"
        return (
            f"cpu_matmul auto -> {self.backend}: per update at these layer shapes {times} ({where})"
        )


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_flags() -> set[str]:
    return set(_cpuinfo().get("flags", "").split())


def native_bf16(flags: set[str]) -> bool:
    """bf16 products in hardware: AVX512-BF16 (Zen 4, Cooper Lake) or AMX (Sapphire Rapids).
    Without them oneDNN emulates bf16 with fp32 arithmetic plus conversions: slower than fp32."""
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def cpu_identity() -> str:
    """Model, family/model/stepping and the ISA flags that decide kernels: the model name alone
    is the same on Zen 3 and Zen 4 here."""
    fields = _cpuinfo()
    if not fields:
        return os.uname().machine
    flags = set(fields.get("flags", "").split())
    isa = "+".join(f for f in ISA_FLAGS if f in flags)
    return (
        f"{fields.get('model name', '?')} family {fields.get('cpu family', '?')} model "
        f"{fields.get('model', '?')} stepping {fields.get('stepping', '?')} [{isa}]"
    )


def cache_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "soccer_td3" / "cpu_matmul.json"


def cache_key(learner: TD3Learner, batch_size: int) -> str:
    actor, critic = learner.actor, learner.critic
    return (
        f"{MEASUREMENT} | {cpu_identity()} | torch {torch.__version__} | "
        f"{torch.get_num_threads()} threads | "
        f"obs {actor.obs_dim} act {actor.act_dim} actor {actor.hidden} critic {critic.hidden} "
        f"{actor.activation} batch {batch_size}"
    )


def random_batch(learner: TD3Learner, batch_size: int) -> ReplayBatch:
    g = torch.Generator().manual_seed(0)
    obs, act = learner.actor.obs_dim, learner.actor.act_dim
    return ReplayBatch(
        torch.randn(batch_size, obs, generator=g),
        torch.rand(batch_size, act, generator=g) * 2 - 1,
        torch.randn(batch_size, 1, generator=g),
        torch.randn(batch_size, obs, generator=g),
        torch.zeros(batch_size, 1),
    )


def _use(learner: TD3Learner, backend: str) -> None:
    for net in (learner.actor, learner.critic, learner.actor_target, learner.critic_target):
        set_onednn(net, backend == "onednn")


def measure(learner: TD3Learner, batch_size: int, rounds: int = 6, per_round: int = 4) -> dict:
    """Median ms per update of each backend, rounds alternating. `learner` is a scratch copy:
    its weights move.

    The first update after a switch is not timed: it pays for the switch (caches and kernels
    of the other backend), which a run never does. Timed, it made the backend switched to
    look slower, and for short rounds that bias exceeded the difference being measured:
    on machine C, 3 timed updates per round picked oneDNN (12-14 ms each) while BLAS was the
    faster by 10% in the loop and in longer rounds (docs/design.md, "Measured")."""
    batch = random_batch(learner, batch_size)
    samples: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for backend in BACKENDS:  # warm-up: first calls allocate and pick kernels
        _use(learner, backend)
        for _ in range(2):
            learner.update(batch)
    for _ in range(rounds):
        for backend in BACKENDS:
            _use(learner, backend)
            learner.update(batch)  # untimed: the switch's own cost
            start = time.perf_counter()
            for _ in range(per_round):
                learner.update(batch)
            samples[backend].append((time.perf_counter() - start) / per_round * 1e3)
    return {b: statistics.median(v) for b, v in samples.items()}


def choose(learner: TD3Learner, batch_size: int) -> MatmulChoice:
    """The faster backend for `learner`'s shapes, from the cache or measured (~0.5 s)."""
    if not onednn_available():
        return MatmulChoice("blas", {}, "measured")
    path = cache_file()
    key = cache_key(learner, batch_size)
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if isinstance(cached, dict) and isinstance(cached.get(key), dict):
        times = {b: float(cached[key][b]) for b in BACKENDS if b in cached[key]}
        if len(times) == len(BACKENDS):
            return MatmulChoice(min(times, key=times.get), times, "cached")
    before = cpu_sample()
    times = measure(learner, batch_size)
    after = cpu_sample()
    if before is not None and after is not None and others_usage(after, before) > BUSY_CORES:
        # Figures taken beside a neighbour say little about this machine: use, don't keep.
        return MatmulChoice(min(times, key=times.get), times, "measured on busy cores")
    choice = MatmulChoice(min(times, key=times.get), times, "measured")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        entries = cached if isinstance(cached, dict) else {}
        entries[key] = times
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=1))
        tmp.replace(path)
    except OSError:
        pass  # an unwritable cache only means measuring again next time
    return choice
