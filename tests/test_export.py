"""Export: the submission loads without soccer_td3 and emits the trained actor's normalised
action (the SAI SDK's mapping of it is tested in tests/reports/test_submission.py)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from soccer_td3.agent.weights import ACTOR_FILE, load_actor
from soccer_td3.envs.observation import features
from soccer_td3.envs.registry import make_env
from soccer_td3.export import export
from tests.cli_helpers import assert_one_line_error, soccer_td3
from tests.conftest import TWO_TASKS

STANDALONE = """
import json, sys
import numpy as np
from preprocessor import Preprocessor
fmt = sys.argv[1]
obs = np.load("obs.npy", allow_pickle=False)
infos = json.load(open("infos.json"))
states = np.stack([Preprocessor().modify_state(o, {k: np.array(v) for k, v in i.items()})
                   for o, i in zip(obs, infos)]).astype(np.float32)
if fmt == "torchscript":
    import torch
    actions = torch.jit.load("actor.pt")(torch.as_tensor(states)).detach().numpy()
else:
    import onnxruntime
    actions = onnxruntime.InferenceSession("actor.onnx").run(None, {"obs": states})[0]
assert "soccer_td3" not in sys.modules
np.save("states.npy", states)
np.save("actions.npy", actions)
"""


def real_observations(n_per_task: int = 20):
    observations, infos, tasks = [], [], []
    for task in TWO_TASKS[::-1]:  # kick-to-target's 39-D obs first, then the goalie's 45-D
        env = make_env(task, seed=1)
        obs, info = env.reset(seed=1)
        for _ in range(n_per_task):
            observations.append(obs)
            infos.append(info)
            tasks.append(task)
            obs, _, terminated, truncated, info = env.step(env.action_space.sample())
            if terminated or truncated:
                obs, info = env.reset()
        env.close()
    return observations, infos, tasks


def jsonable(info: dict) -> dict:
    return {k: np.asarray(v, dtype=float).tolist() for k, v in info.items() if k != "reward_terms"}


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_exported_actor_runs_without_soccer_td3_and_matches(two_task_run, tmp_path, fmt):
    out = tmp_path / "submission"
    export(two_task_run, out, fmt)
    observations, infos, tasks = real_observations()
    expected_states = np.stack(
        [features(o, i, t) for o, i, t in zip(observations, infos, tasks, strict=True)]
    )
    actor = load_actor(two_task_run / "final" / ACTOR_FILE)
    with torch.no_grad():
        expected = actor(torch.as_tensor(expected_states)).numpy()

    # Two observation sizes: the preprocessor tells the task by size, as on the platform.
    by_size: dict[int, list[int]] = {}
    for index, obs in enumerate(observations):
        by_size.setdefault(obs.shape[0], []).append(index)
    for size, indices in by_size.items():
        np.save(out / "obs.npy", np.stack([observations[i] for i in indices]))
        (out / "infos.json").write_text(json.dumps([jsonable(infos[i]) for i in indices]))
        (out / "run.py").write_text(STANDALONE)
        result = subprocess.run(
            [sys.executable, "run.py", fmt],
            cwd=out,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        np.testing.assert_allclose(np.load(out / "states.npy"), expected_states[indices], atol=1e-6)
        (
            np.testing.assert_allclose(
                np.load(out / "actions.npy"), expected[indices], rtol=1e-5, atol=1e-5
            ),
            size,
        )
    assert "modify_state" in (out / "preprocessor.py").read_text()
    assert (out / "README.md").read_text().count("Preprocessor") >= 1


def test_export_without_weights_is_one_line_exit_2(tmp_path: Path):
    result = soccer_td3("export", str(tmp_path), "--out", str(tmp_path / "o"))
    assert_one_line_error(result, "no weights at")
    assert not (tmp_path / "o").exists()


def test_a_non_finite_observation_is_refused_by_the_submission_in_words(two_task_run, tmp_path):
    """Issue 29: the exported model returned NaN actions for a NaN input without a word."""
    import numpy as np
    import pytest

    from soccer_td3.cli import main

    assert main(["export", str(two_task_run), "--save-dir", str(tmp_path / "sub")]) == 0
    namespace = {"np": np}
    exec((tmp_path / "sub" / "preprocessor.py").read_text(), namespace)
    preprocessor = namespace["Preprocessor"]()
    with pytest.raises(ValueError, match="NaN or inf values"):
        preprocessor.modify_state(np.full(45, np.nan, dtype=np.float32), {})
