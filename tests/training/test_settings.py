"""Every speed switch of TrainConfig reaches the learner train builds, and takes effect there."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from soccer_td3.agent.td3 import actor_loss, critic_loss
from soccer_td3.config import TrainConfig, build_config
from soccer_td3.errors import UserError
from soccer_td3.training.loop import train
from soccer_td3.training.settings import build_learner, learner_settings, precision_warning
from tests.agent.test_td3 import _batch
from tests.cli_helpers import soccer_td3
from tests.conftest import tiny

OBS, ACT = 45, 12
WIDE = {"actor_net": [256, 256], "critic_net": [256, 256]}


def learner_for(**settings):
    config = tiny(**WIDE).replace(**settings)
    return build_learner(config, OBS, ACT, -np.ones(ACT), np.ones(ACT), "cpu")


def test_settings_come_from_the_config():
    config = tiny(gamma=0.9, tau=0.01, policy_delay=3, precision="bf16", compile=True).replace(
        redflag_window=777, redflag_q_limit=5.0
    )
    settings = learner_settings(config)
    assert (settings.hp.gamma, settings.hp.tau, settings.hp.policy_delay) == (0.9, 0.01, 3)
    assert (settings.acceleration.precision, settings.acceleration.compile) == ("bf16", True)
    assert (settings.redflags.window, settings.redflags.q_limit) == (777, 5.0)


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_precision_sets_the_dtype_of_the_critics_activations(precision):
    learner = learner_for(precision=precision)
    dtypes = set()
    for layer in learner.critic.modules():
        if isinstance(layer, torch.nn.Linear):
            layer.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))
    learner.update(_batch(64, obs=OBS, act=ACT))
    assert dtypes == {torch.bfloat16 if precision == "bf16" else torch.float32}


def test_a_compiled_run_uses_compiled_loss_functions():
    eager, compiled = learner_for(compile=False), learner_for(compile=True)
    assert eager.critic_loss_fn is critic_loss and eager.actor_loss_fn is actor_loss
    assert compiled.critic_loss_fn is not critic_loss
    assert compiled.critic_loss_fn._torchdynamo_orig_callable is critic_loss
    assert compiled.actor_loss_fn._torchdynamo_orig_callable is actor_loss


def test_retired_cpu_matmul_still_loads_from_yaml_set_and_flag(tmp_path: Path, capsys):
    """cpu_matmul is retired (issue 27): old config.yaml files, --set and --cpu-matmul still
    run; onednn says that BLAS runs instead; a value it never took is refused."""
    old = tmp_path / "config.yaml"
    old.write_text(yaml.safe_dump({**tiny().model_dump(), "cpu_matmul": "onednn"}))
    assert build_config(config_file=old) == tiny()
    assert "cpu_matmul onednn is retired" in capsys.readouterr().err
    assert build_config(overrides={"cpu_matmul": "auto"}) == TrainConfig()
    assert capsys.readouterr().err == ""
    with pytest.raises(UserError, match="cpu_matmul='mkl' is invalid, and cpu_matmul is retired"):
        build_config(overrides={"cpu_matmul": "mkl"})
    run = tmp_path / "run"
    result = soccer_td3(
        "train", "--timesteps", "150", "--learning-starts", "100", "--batch-size", "32",
        "--net", "32", "--device", "cpu", "--checkpoint-freq", "0", "--cpu-matmul", "blas",
        "--save-dir", str(run),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "cpu_matmul" not in (run / "config.yaml").read_text()
    assert "--cpu-matmul" not in soccer_td3("train", "--help").stdout


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
        tiny(device="cuda", precision="bf16", compile=True),
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
        TrainConfig(actor_last_layer_init=3e-3),
        45,
        12,
        -np.ones(12),
        np.ones(12),
        "cpu",
    )
    default = build_learner(TrainConfig(), 45, 12, -np.ones(12), np.ones(12), "cpu")
    last = small.actor.net[-1]
    assert last.weight.abs().max() <= 3e-3 and last.bias.abs().max() <= 3e-3
    with torch.no_grad():
        assert small.actor(obs).abs().max() < 0.1 < default.actor(obs).abs().max()
