"""A trained actor as a standalone submission: TorchScript (what the SAI platform loads) or
ONNX, plus the preprocessor that builds its input, runnable without soccer_td3 installed.

The exported module maps the observation it was trained on (the feature vector, or the task's
raw observation) straight to torques in the env's units: tanh and the action rescaling are
inside, so the caller only feeds `Preprocessor().modify_state(obs, info)` and steps the env.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import torch
from torch import Tensor, nn

from soccer_td3.agent.networks import Actor
from soccer_td3.agent.onednn_linear import set_onednn
from soccer_td3.envs import observation
from soccer_td3.errors import UserError
from soccer_td3.reports.evaluate import load_policy
from soccer_td3.training.run_dir import writable_dir

FORMATS = ("torchscript", "onnx")


class EnvUnitsActor(nn.Module):
    """obs -> action in the env's units, with nothing outside torch."""

    def __init__(self, actor: Actor) -> None:
        super().__init__()
        self.actor = copy.deepcopy(actor).eval()
        set_onednn(self.actor, False)  # plain F.linear: traceable and portable

    def forward(self, obs: Tensor) -> Tensor:
        return self.actor.to_env_units(self.actor(obs))


# Appended to a verbatim copy of envs/observation.py. The platform calls modify_state(obs, info)
# without naming the task, so the task is told by its observation size: the three competition
# tasks differ (45 goalie, 54 obstacle, 39 kick to target).
PREPROCESSOR_TAIL = '''

TASK_BY_OBS_SIZE = {
    45: "LowerT1GoaliePenaltyKick-v0",
    54: "LowerT1ObstaclePenaltyKick-v0",
    39: "LowerT1KickToTarget-v0",
}
OBS_MODE = "{obs_mode}"


class Preprocessor:
    """What the exported actor reads: soccer_td3's feature vector (or the raw observation)."""

    def modify_state(self, obs, info):
        obs = np.asarray(obs, dtype=np.float32)
        if OBS_MODE == "raw":
            return obs
        if obs.ndim == 2:  # a batch of observations with a list of infos
            return np.stack([self.modify_state(o, i) for o, i in zip(obs, info)])
        return features(obs, info, TASK_BY_OBS_SIZE[obs.shape[-1]])
'''

SUBMISSION_README = """# soccer_td3 submission

- `{model}`: actor, {obs_dim} inputs -> {act_dim} joint torques in the env's units.
- `preprocessor.py`: `Preprocessor().modify_state(obs, info)` builds those inputs ({obs_mode}).

Run it (needs numpy and {runtime} only):

```python
from preprocessor import Preprocessor
{usage}
```

On SAI, submit the model file with this preprocessor (the platform calls `modify_state`).
"""


TORCHSCRIPT_USAGE = """import torch

model = torch.jit.load("actor.pt")
state = Preprocessor().modify_state(obs, info)
action = model(torch.as_tensor(state).unsqueeze(0))[0].numpy()"""
ONNX_USAGE = """import onnxruntime

session = onnxruntime.InferenceSession("actor.onnx")
state = Preprocessor().modify_state(obs, info)
action = session.run(None, {"obs": state[None]})[0][0]"""


def export(path: Path, out_dir: Path, fmt: str = "torchscript") -> Path:
    if fmt not in FORMATS:
        raise UserError(f"unknown --format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    actor, meta = load_policy(path)
    obs_mode = meta.get("obs", "raw")
    model = EnvUnitsActor(actor).eval()
    example = torch.zeros(1, actor.obs_dim)
    writable_dir(out_dir, "--out")
    if fmt == "torchscript":
        target = out_dir / "actor.pt"
        with torch.no_grad():
            torch.jit.trace(model, example).save(str(target))
        runtime, usage = "torch", TORCHSCRIPT_USAGE
    else:
        target = out_dir / "actor.onnx"
        torch.onnx.export(
            model,
            (example,),
            str(target),
            input_names=["obs"],
            output_names=["action"],
            dynamic_shapes={"obs": {0: torch.export.Dim("batch")}},
            dynamo=True,
        )
        runtime, usage = "onnxruntime", ONNX_USAGE
    source = inspect.getsource(observation) + PREPROCESSOR_TAIL.replace("{obs_mode}", obs_mode)
    (out_dir / "preprocessor.py").write_text(source)
    (out_dir / "README.md").write_text(
        SUBMISSION_README.format(
            model=target.name,
            obs_dim=actor.obs_dim,
            act_dim=actor.act_dim,
            obs_mode=obs_mode,
            runtime=runtime,
            usage=usage,
        )
    )
    return target
