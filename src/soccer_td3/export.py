"""A trained actor as a submission folder in the SAI platform's contract.

The platform (its SDK `sai-rl`, `BaseModelHandler.get_action`) reads a continuous model's output
as a value in [-1, 1], maps it linearly onto [low, high] of the action space and clips it. So the
exported model returns the *normalised* action, and the SDK's default mapping turns it into the
very torques `soccer-td3 evaluate` applies. An earlier export returned torques in N·m, which the
SDK clipped to the bounds: a bang-bang controller, not the trained one.

Beside the model go `preprocessor.py` (what the SDK's preprocessing manager loads), a README with
the exact `sai.submit(...)` call, and `submission.json`, which `soccer-td3 evaluate FOLDER` reads
to play the folder through the SDK.
"""

from __future__ import annotations

import copy
import inspect
import json
from pathlib import Path

import torch
from torch import Tensor, nn

from soccer_td3.agent.networks import Actor
from soccer_td3.envs import commander, observation
from soccer_td3.envs.commander import MODEL_INPUT_SIZE
from soccer_td3.envs.control import ControlSpec
from soccer_td3.envs.registry import make_env, task_spec
from soccer_td3.errors import UserError
from soccer_td3.files import atomic_path, write_text
from soccer_td3.hierarchy import hierarchy_module
from soccer_td3.reports.evaluate import load_policy
from soccer_td3.reports.submission import MANIFEST, PREPROCESSOR
from soccer_td3.skills.pd import JointTargets, normalised_torque
from soccer_td3.skills.rows import RowByRow
from soccer_td3.training.run_dir import FolderClaim, claim_new_folder

FORMATS = ("torchscript", "onnx")
MODEL_FILES = {"torchscript": "actor.pt", "onnx": "actor.onnx"}
# The platform plays these three; the preprocessor tells them apart by observation size.
COMPETITION_TASKS = (
    "LowerT1GoaliePenaltyKick-v0",
    "LowerT1ObstaclePenaltyKick-v0",
    "LowerT1KickToTarget-v0",
)


class NormalisedActor(nn.Module):
    """obs -> normalised action in [-1, 1], with nothing outside torch.

    Torque control: the actor's tanh output already is that action. PD control: the actor's
    output is a joint target, and the PD law runs inside the model on the input's joint
    positions and velocities (its first 24 values, raw or feature observation alike), giving
    torques that are divided by the bound and clipped, so the SDK's mapping restores them. The
    platform calls the model at every env step, so a submitted PD policy re-decides its target
    at every step, whatever decimation it trained with. A balanced PD run's ankle feedback reads
    the tilt and pitch rate from the feature vector, as JointControl reads them from info."""

    def __init__(self, actor: Actor, control: ControlSpec | None, torque_bound=None) -> None:
        super().__init__()
        self.actor = copy.deepcopy(actor).eval()
        self.pd = control is not None and control.control == "pd"
        if self.pd:
            balance = control.balance if control.balanced else None
            self.law = JointTargets(
                control.kp, control.kd, control.pose, control.action_scale, balance
            )
            self.register_buffer("bound", torch.as_tensor(torque_bound, dtype=torch.float32))

    def forward(self, obs: Tensor) -> Tensor:
        action = self.actor(obs).clamp(-1.0, 1.0)
        if not self.pd:
            return action
        # The feature vector's tilt and pitch rate: what JointControl reads from info.
        tilt, rate = observation.GRAVITY_SLICE.start, observation.GYRO_SLICE.start + 1
        gravity_x, gyro_y = obs[:, tilt : tilt + 1], obs[:, rate : rate + 1]
        torque = self.law(self.law.target(action), obs, gravity_x, gyro_y)
        return normalised_torque(torque, self.bound)


def task_by_obs_size(trained_tasks: list[str]) -> dict[int, str]:
    """Which task an observation of each size comes from, as the preprocessor decides it.

    The platform's `modify_state(obs, info)` does not name the task, so the size tells it: the
    three competition tasks differ (45, 54, 39). A task the run trained on wins its size (the
    plain penalty kick shares 39 with kick to target); two trained tasks of one size cannot be
    told apart, so export refuses them."""
    table: dict[int, str] = {}
    for task in trained_tasks:
        size = task_spec(task).obs_dim
        if size in table:
            raise UserError(
                f"{table[size]} and {task} both give {size}-value observations, so a submission "
                "cannot tell them apart; export a run that trained on at most one of them"
            )
        table[size] = task
    for task in COMPETITION_TASKS:
        table.setdefault(task_spec(task).obs_dim, task)
    return table


PREPROCESSOR_HEAD = '''"""soccer_td3 submission preprocessor: the actor's input from (obs, info).

The SAI SDK deletes import lines, runs this file with only `np` defined and keeps the first
definition it finds (any line that starts with the keyword), so Preprocessor comes first and
nothing needs more than numpy.
"""
import numpy as np

OBS_MODE = {obs_mode!r}
MODEL_INPUT_SIZE = {input_size}
TASK_BY_OBS_SIZE = {task_table!r}


class Preprocessor:
    """modify_state(obs, info) for one observation or a vector env's batch (a dict of arrays)."""

    def modify_state(self, obs, info):
        obs = np.asarray(obs, dtype=np.float32)
        if obs.ndim == 2:
            rows = [self.modify_state(o, row_info(info, i)) for i, o in enumerate(obs)]
            return np.stack(rows)
        if not np.all(np.isfinite(obs)):
            raise ValueError(
                "soccer_td3 preprocessor: the observation holds NaN or inf values; the model "
                "would act on them with NaN actions. Check the environment that produced it"
            )
        if OBS_MODE == "raw":
            if obs.shape[-1] != MODEL_INPUT_SIZE:
                raise ValueError(
                    f"soccer_td3 preprocessor: this model reads {{MODEL_INPUT_SIZE}}-value "
                    f"observations, got {{obs.shape[-1]}}; it was trained on another task"
                )
            return obs
        task = TASK_BY_OBS_SIZE.get(obs.shape[-1])
        if task is None:
            raise ValueError(
                f"soccer_td3 preprocessor: no task gives {{obs.shape[-1]}}-value observations; "
                f"known sizes: {{TASK_BY_OBS_SIZE}}"
            )
        if OBS_MODE == "commander":
            return model_input(obs, info, task)
        return features(obs, info, task)


def row_info(info, i):
    """Row i of a batch's info: gymnasium's vector envs give a dict of arrays (with `_key`
    masks), older code a list of dicts."""
    if isinstance(info, (list, tuple)):
        return info[i]
    row = {{}}
    for key, value in info.items():
        if key.startswith("_") or isinstance(value, dict):
            continue
        mask = info.get("_" + key)
        if mask is not None and not mask[i]:
            continue
        row[key] = value[i]
    return row


# What follows is soccer_td3's envs/observation.py (and, for a command-control model,
# envs/commander.py) verbatim: training and submission share them.
'''

SUBMISSION_README = """# soccer_td3 submission

- `{model}`: {what}, {obs_dim} inputs -> {act_dim} normalised actions in [-1, 1]. The SAI SDK's
  default action path maps them onto the action bounds ([low, high], here ±{bounds} N·m), which
  gives exactly the torques soccer_td3 trained and evaluated with. No action function is needed.
- `preprocessor.py`: `Preprocessor().modify_state(obs, info)` builds the inputs ({obs_mode}).
- `submission.json`: what soccer_td3 knows of this export (tasks, sizes, format).

Trained on: {tasks}.

## Which task is which
The platform calls `modify_state(obs, info)` without naming the task, so the preprocessor tells
the task by the observation's size: {task_sizes}. An observation of any other size raises a
ValueError that names its size and the known ones; it is never given a wrong task one-hot.
{untrained}
## Check it, then submit it
Play these very files through the SDK's model manager (torch.jit.load or onnxruntime, this
preprocessor, the default action mapping), scored as the competition scores:

```bash
soccer-td3 evaluate {folder} --episodes 5
```

Submit (needs `pip install sai-rl==0.1.37` and `sai login`):

```python
from sai_rl import SAIClient

sai = SAIClient(comp_id="booster-soccer-showdown")
sai.submit("soccer_td3 agent", "actor.pt", preprocessor_class="preprocessor.py")
```
{onnx_note}
Run it without the SDK (needs numpy and {runtime} only):

```python
import numpy as np
from preprocessor import Preprocessor

{usage}
torques = low + (high - low) * (np.clip(action, -1, 1) + 1) / 2   # what the SDK does
```
"""

HIERARCHY_NOTE = (
    "the whole hierarchy (the trained commander choosing a walking command every "
    "0.1 s, Booster's T1 walking skill turning it into joint targets at 50 Hz, the PD law giving "
    "torques at every step), which keeps each env's state between calls and starts a row afresh "
    "when its joints read all zero (an episode's first step)"
)

ONNX_NOTE = """
`actor.onnx` plays through the SDK's ONNX handler (`soccer-td3 evaluate` checks it), but
sai-rl 0.1.37's `submit` cannot upload an `.onnx` file from a path (its ONNX handler saves
nothing, then the upload opens a file that is not there): export `--format torchscript` for
`sai.submit`, or upload `actor.onnx` through the SAI website.
"""

TORCHSCRIPT_USAGE = """import torch

model = torch.jit.load("actor.pt")
state = Preprocessor().modify_state(obs, info)
action = model(torch.as_tensor(state).unsqueeze(0))[0].numpy()"""
ONNX_USAGE = """import onnxruntime

session = onnxruntime.InferenceSession("actor.onnx")
state = Preprocessor().modify_state(obs, info)
action = session.run(None, {"obs": state[None]})[0][0]"""


EXPORT_FILES = (*MODEL_FILES.values(), PREPROCESSOR, MANIFEST, "README.md")


def holds_export(folder: Path) -> bool:
    return any((folder / name).exists() for name in EXPORT_FILES)


def new_export_dir(out_dir: Path) -> tuple[Path, FolderClaim]:
    """`out_dir`, or the first free `out_dir_<n>` when it already holds an export's files or
    another export is writing there: as train never overwrites a run, export never overwrites
    an export. Claimed for this process (training/run_dir.py)."""
    folder, claim = claim_new_folder(out_dir, holds_export, "--save-dir")
    if folder != out_dir:
        print(
            f"{out_dir} already holds an export (or another is being written there); writing "
            f"this one to {folder}"
        )
    return folder, claim


def preprocessor_source(obs_mode: str, input_size: int, task_table: dict[int, str]) -> str:
    head = PREPROCESSOR_HEAD.format(obs_mode=obs_mode, input_size=input_size, task_table=task_table)
    modules = [observation, commander] if obs_mode == "commander" else [observation]
    return head + "".join("\n" + inspect.getsource(module) for module in modules)


def _write_model(model: nn.Module, example: Tensor, target: Path, fmt: str) -> None:
    if fmt == "torchscript":
        with torch.no_grad():
            traced = torch.jit.trace(model, example[:1])
        torch.jit.script(RowByRow(traced)).save(str(target))
    else:
        torch.onnx.export(
            model,
            (example,),
            str(target),
            input_names=["obs"],
            output_names=["action"],
            dynamic_shapes={"obs": {0: torch.export.Dim("batch")}},
            dynamo=True,
        )


def export(path: Path, out_dir: Path, fmt: str = "torchscript") -> Path:
    if fmt not in FORMATS:
        raise UserError(f"unknown --format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    actor, meta = load_policy(path)
    obs_mode = meta.get("obs", "raw")
    if obs_mode == "commander" and fmt != "torchscript":
        raise UserError(
            "a command-control model keeps each env's walking state between calls, which only "
            "the TorchScript export holds: export it with --format torchscript"
        )
    tasks = list(meta.get("tasks") or [])
    task_table = task_by_obs_size(tasks)
    out_dir, claim = new_export_dir(out_dir)
    with claim:  # given up as the command ends, as the process's end would
        target = out_dir / MODEL_FILES[fmt]
        control = ControlSpec.from_meta(meta)
        bound = None
        if control is not None and control.control in ("pd", "command"):
            env = make_env(tasks[0])  # the torque bounds the PD law clips to (symmetric here)
            bound = env.action_space.high
            env.close()
        with atomic_path(target) as tmp:
            if control is not None and control.control == "command":
                hierarchy_module(actor, control, bound).save(str(tmp))
                input_size, output_size = MODEL_INPUT_SIZE, len(bound)
            else:
                model = NormalisedActor(actor, control, bound).eval()
                _write_model(model, torch.zeros(1, actor.obs_dim), tmp, fmt)
                input_size, output_size = actor.obs_dim, actor.act_dim
        write_text(out_dir / PREPROCESSOR, preprocessor_source(obs_mode, input_size, task_table))
        write_text(
            out_dir / MANIFEST,
            json.dumps(
                {
                    "format": fmt,
                    "model": target.name,
                    "preprocessor": PREPROCESSOR,
                    "obs": obs_mode,
                    "tasks": tasks,
                    "obs_dim": input_size,
                    "act_dim": output_size,
                    "action": "normalised to [-1, 1]; the SAI SDK maps it onto the action bounds",
                    "control": control.as_dict() if control else None,
                },
                indent=2,
            ),
        )
        torque_bounds = bound if bound is not None else actor.action_scale.tolist()
        untrained = [t for t in COMPETITION_TASKS if t not in tasks]
        untrained_note = (
            f"\nThis model never trained on {', '.join(untrained)}: there it still gets that "
            "task's input and one-hot, but expect it to play badly.\n"
            if untrained and obs_mode != "raw"
            else ""
        )
        write_text(
            out_dir / "README.md",
            SUBMISSION_README.format(
                model=target.name,
                obs_dim=input_size,
                act_dim=output_size,
                what=HIERARCHY_NOTE if obs_mode == "commander" else "the actor",
                bounds=",".join(f"{b:g}" for b in torque_bounds),
                obs_mode=obs_mode,
                tasks=", ".join(tasks) or "(not recorded)",
                task_sizes="; ".join(f"{size} values: {task}" for size, task in task_table.items())
                if obs_mode != "raw"
                else f"a raw-observation model reads only {input_size}-value observations "
                "(its own task's), and refuses any other size",
                untrained=untrained_note,
                folder=out_dir,
                onnx_note=ONNX_NOTE if fmt == "onnx" else "",
                runtime="torch" if fmt == "torchscript" else "onnxruntime",
                usage=TORCHSCRIPT_USAGE if fmt == "torchscript" else ONNX_USAGE,
            ),
        )
        return target
