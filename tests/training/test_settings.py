"""Every speed switch of TrainConfig reaches the learner train builds, and takes effect there."""

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from soccer_td3.agent import matmul_choice, onednn_linear
from soccer_td3.agent.matmul_choice import cache_file, random_batch
from soccer_td3.agent.onednn_linear import FastLinear
from soccer_td3.agent.td3 import actor_loss, critic_loss
from soccer_td3.config import TrainConfig
from soccer_td3.training.loop import train
from soccer_td3.training.settings import (
    build_learner,
    learner_settings,
    precision_warning,
    resolve_cpu_matmul,
)
from tests.cli_helpers import soccer_td3
from tests.conftest import tiny

OBS, ACT = 45, 12
WIDE = {"actor_net": [256, 256], "critic_net": [256, 256]}  # layers big enough for oneDNN


def learner_for(**settings):
    config = tiny(cpu_matmul="onednn", **WIDE).model_copy(update=settings)
    return build_learner(config, OBS, ACT, -np.ones(ACT), np.ones(ACT), "cpu")


def test_settings_come_from_the_config():
    config = tiny(
        cpu_matmul="blas", gamma=0.9, tau=0.01, policy_delay=3, precision="bf16", compile=True
    ).model_copy(update={"redflag_window": 777, "redflag_q_limit": 5.0})
    settings = learner_settings(config)
    assert (settings.hp.gamma, settings.hp.tau, settings.hp.policy_delay) == (0.9, 0.01, 3)
    assert (settings.acceleration.precision, settings.acceleration.compile) == ("bf16", True)
    assert settings.acceleration.cpu_matmul == "blas"
    assert (settings.redflags.window, settings.redflags.q_limit) == (777, 5.0)
    with pytest.raises(ValueError, match="resolve cpu_matmul auto"):
        learner_settings(tiny())


def test_a_bf16_run_computes_critic_activations_in_bf16():
    """(fp32 updates call no module: their hand-written gradients are in test_backprop.py.)"""
    learner = learner_for(precision="bf16")
    dtypes = set()
    for layer in learner.critic.modules():
        if isinstance(layer, FastLinear):
            layer.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))
    learner.update(random_batch(learner, 64))
    assert dtypes == {torch.bfloat16}


def test_a_compiled_run_uses_compiled_loss_functions():
    eager, compiled = learner_for(compile=False), learner_for(compile=True)
    assert eager.critic_loss_fn is critic_loss and eager.actor_loss_fn is actor_loss
    assert compiled.critic_loss_fn is not critic_loss
    assert compiled.critic_loss_fn._torchdynamo_orig_callable is critic_loss
    assert compiled.actor_loss_fn._torchdynamo_orig_callable is actor_loss


def count_onednn_products(monkeypatch) -> list[int]:
    """Counts the Linear products that go through oneDNN (the real kernel still runs), in the
    autograd Function and the hand-written gradients alike."""
    calls = [0]
    original = onednn_linear._linear_pointwise

    def counted(*args):
        calls[0] += 1
        return original(*args)

    monkeypatch.setattr(onednn_linear, "_linear_pointwise", counted)
    return calls


def test_cpu_matmul_in_config_yaml_is_the_backend_the_run_uses(tmp_path: Path, monkeypatch):
    run = tmp_path / "run"
    result = soccer_td3(
        "train", "--timesteps", "200", "--learning-starts", "100", "--batch-size", "32",
        "--net", "256,256", "--device", "cpu", "--checkpoint-freq", "0", "--save-dir", str(run),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    recorded = yaml.safe_load((run / "config.yaml").read_text())["cpu_matmul"]
    assert recorded in ("onednn", "blas")
    assert f"cpu_matmul auto -> {recorded}" in " ".join(result.stderr.split())

    from soccer_td3.config import build_config

    for backend in (recorded, "onednn", "blas"):
        calls = count_onednn_products(monkeypatch)
        config = build_config(config_file=run / "config.yaml").model_copy(
            update={"cpu_matmul": backend, "timesteps": 150}
        )
        train(config, tmp_path / f"again_{backend}_{len(os.listdir(tmp_path))}")
        assert (calls[0] > 0) == (backend == "onednn"), (backend, calls[0])


def test_auto_measures_once_per_machine_and_shapes_then_reads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first, line = resolve_cpu_matmul(tiny())
    assert first.cpu_matmul in ("onednn", "blas") and "measured now" in line
    assert cache_file().is_file() and str(tmp_path) in str(cache_file())
    again, line = resolve_cpu_matmul(tiny())
    assert again.cpu_matmul == first.cpu_matmul and "measured earlier" in line
    _, line = resolve_cpu_matmul(tiny(batch_size=64))  # other shapes: measured anew
    assert "measured now" in line
    fixed, line = resolve_cpu_matmul(tiny(cpu_matmul="blas"))
    assert fixed.cpu_matmul == "blas" and line is None
    bf16, line = resolve_cpu_matmul(tiny(precision="bf16"))
    assert bf16.cpu_matmul == "blas" and "unused" in line


def test_auto_times_no_update_that_follows_a_switch_of_backend(monkeypatch):
    """The update after a switch pays for the switch; measure must leave it untimed."""
    learner = learner_for()
    window = {"open": False}  # perf_counter is read at a window's start and at its end

    def perf_counter() -> float:
        window["open"] = not window["open"]
        return 0.0

    monkeypatch.setattr(matmul_choice.time, "perf_counter", perf_counter)
    log: list[tuple[bool, bool]] = []  # (oneDNN in use, inside a timing window) per update
    update = learner.update
    linears = [m for m in learner.critic.modules() if isinstance(m, FastLinear)]
    widest = max(linears, key=lambda m: m.weight.numel())  # big enough for oneDNN

    def logged(batch):
        log.append((widest.onednn, window["open"]))
        return update(batch)

    monkeypatch.setattr(learner, "update", logged)
    matmul_choice.measure(learner, 32, rounds=2, per_round=3)
    runs = [list(group) for _, group in itertools.groupby(log, key=lambda entry: entry[0])]
    assert [len(run) for run in runs] == [2, 2, 4, 4, 4, 4]  # warm-ups, then 1 + 3 a round
    for run in runs[2:]:
        assert [timed for _, timed in run] == [False, True, True, True]


def test_bf16_warns_only_on_a_cpu_that_would_emulate_it():
    bf16, fp32 = tiny(precision="bf16"), tiny()
    warning = precision_warning(bf16, flags={"avx2", "fma"})
    assert warning is not None and "slower than fp32" in warning
    assert precision_warning(bf16, flags={"avx2", "avx512f", "avx512_bf16"}) is None
    assert precision_warning(bf16, flags={"amx_bf16", "amx_tile"}) is None
    assert precision_warning(fp32, flags={"avx2"}) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")
def test_on_cuda_the_buffer_lives_on_the_gpu_and_compile_and_bf16_run(tmp_path: Path):
    from soccer_td3.agent.replay import ReplayBuffer

    learner = build_learner(
        tiny(device="cuda", precision="bf16", compile=True, cpu_matmul="blas"),
        OBS, ACT, -np.ones(ACT), np.ones(ACT), "cuda",
    )  # fmt: skip
    buffer = ReplayBuffer(1000, OBS, ACT, "cuda")
    rng = np.random.default_rng(0)
    buffer.add(
        rng.normal(size=(500, OBS)), rng.uniform(-1, 1, (500, ACT)), rng.normal(size=500),
        rng.normal(size=(500, OBS)), np.zeros(500),
    )  # fmt: skip
    sample = buffer.sample(64)
    assert sample.obs.device.type == "cuda"
    for _ in range(6):  # reduce-overhead records CUDA graphs after a warm-up
        metrics = learner.update(buffer.sample(64))
    assert torch.isfinite(metrics["train/critic_loss"])
    assert learner.critic_loss_fn._torchdynamo_orig_callable is critic_loss
    train(tiny(device="cuda", precision="bf16", compile=True), tmp_path / "run")
    assert (tmp_path / "run" / "final").is_dir()


def test_actor_last_layer_init_starts_the_policy_near_zero():
    from soccer_td3.training.settings import build_learner

    obs = torch.randn(256, 45) * 3
    small = build_learner(
        TrainConfig(actor_last_layer_init=3e-3, cpu_matmul="blas"),
        45,
        12,
        -np.ones(12),
        np.ones(12),
        "cpu",
    )
    default = build_learner(
        TrainConfig(cpu_matmul="blas"), 45, 12, -np.ones(12), np.ones(12), "cpu"
    )
    last = small.actor.net[-1]
    assert last.weight.abs().max() <= 3e-3 and last.bias.abs().max() <= 3e-3
    with torch.no_grad():
        assert small.actor(obs).abs().max() < 0.1 < default.actor(obs).abs().max()
