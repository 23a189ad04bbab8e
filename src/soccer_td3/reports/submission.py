"""An exported submission folder played through the competition's own SDK, as the platform will.

`sai-rl`'s ModelManager loads the model (torch.jit.load, or an onnxruntime session), loads our
`preprocessor.py` with its own loader (import lines deleted, first class kept) and maps the
model's output from [-1, 1] onto the action bounds. Playing episodes with the actions it returns
scores the very files a user uploads, not our copy of them.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np

from soccer_td3.envs.registry import make_env, task_spec
from soccer_td3.errors import UserError
from soccer_td3.training.evaluation import Policy, TaskResult, play_task

# The files of an export folder (export.py writes them).
MANIFEST = "submission.json"
PREPROCESSOR = "preprocessor.py"


def is_submission(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        model, tasks = manifest["model"], manifest["tasks"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"{folder / MANIFEST} is not a soccer-td3 export manifest ({exc}); "
            f"export the run again with `soccer-td3 export RUN --out {folder}`"
        ) from None
    for name in (model, PREPROCESSOR):
        if not (folder / name).is_file():
            raise UserError(
                f"{folder} is an export without its {name}; export the run again into a new folder"
            )
    return manifest | {"tasks": list(tasks)}


def sdk_version() -> str:
    try:
        return metadata.version("sai-rl")
    except metadata.PackageNotFoundError:
        raise UserError(
            "playing a submission needs the SAI SDK: pip install 'soccer-td3[sai]' (sai-rl==0.1.37)"
        ) from None


def sdk_path(manifest: dict) -> str:
    loader = "torch.jit.load" if manifest["model"].endswith(".pt") else "onnxruntime"
    return (
        f"SAI SDK sai-rl {sdk_version()} ModelManager: {loader}({manifest['model']}), "
        f"{PREPROCESSOR} via its preprocessing manager, default action mapping [-1, 1] -> bounds"
    )


def sdk_policy(folder: Path, manifest: dict, env) -> Policy:
    """The SDK's get_action(obs, info) for `env`, as the platform builds it for a task."""
    sdk_version()
    from sai_rl.model.model_manager import ModelManager

    try:
        manager = ModelManager(
            env=env,
            model=str(folder / manifest["model"]),
            preprocessor_class=str(folder / PREPROCESSOR),
        )
    except Exception as exc:  # the SDK runs our preprocessor's code: anything may surface
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(
            f"the SAI SDK cannot load the submission in {folder}: {reason}; "
            "export the run again with `soccer-td3 export`"
        ) from None

    def act(obs: np.ndarray, info: dict) -> np.ndarray:
        try:
            action = manager.get_action(obs, info)
        except ValueError as exc:  # the preprocessor refusing an observation it cannot place
            raise UserError(str(exc).splitlines()[0]) from None
        return np.asarray(action)[0]  # the SDK adds a batch axis to a single observation

    return act


def evaluate_submission(
    folder: Path, tasks: list[str], episodes: int, seed: int = 0
) -> list[TaskResult]:
    manifest = read_manifest(folder)
    path = sdk_path(manifest)
    results = []
    for task in tasks:
        task_spec(task)
        env = make_env(task, seed)
        results.append(
            play_task(env, sdk_policy(folder, manifest, env), task, episodes, seed, 0.0, path)
        )
    return results
