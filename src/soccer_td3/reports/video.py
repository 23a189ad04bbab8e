"""An mp4 of a policy playing each task, one after another, each captioned with its task, and
a half-size GIF of the same frames beside it (OUT.gif): an mp4 does not play on a code host's
page, a GIF does, so the README's picture is this file.

Rendering is offscreen and, on a machine without a GPU, in software (osmesa): ~5-6 frames/s at
480x270 here, so frames are rendered only every `control_hz / fps` steps (the envs run at
500 Hz: a 25 fps clip renders every 20th step) and progress is shown. MUJOCO_GL must be chosen
before MuJoCo is first imported, which `use_offscreen_gl` does unless the user already has.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from soccer_td3.envs.control import ControlSpec
from soccer_td3.files import atomic_path
from soccer_td3.training.evaluation import Policy

CONTROL_HZ = 500  # sai_mujoco's render_fps: one env step is 2 ms of simulated time
GIF_SCALE = 2  # the GIF's frames are 1/GIF_SCALE of the mp4's on each side: small to commit


def gif_path(video: Path) -> Path:
    """Where the GIF of `video` goes: beside it, same name."""
    return video.with_suffix(".gif")


def write_gif(path: Path, small_frames: list[np.ndarray], fps: float) -> None:
    """Frames already downscaled by GIF_SCALE (kept small while recording: 750 full frames of
    a 3-task clip would hold 290 MB) as a looping GIF (pillow, through imageio)."""
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.stack(small_frames), extension=".gif", duration=1000 / fps, loop=0)


def use_offscreen_gl() -> None:
    """osmesa (software) on CPU machines, egl with a GPU; a user's MUJOCO_GL wins."""
    if "MUJOCO_GL" not in os.environ:
        if "mujoco" in sys.modules:
            return  # too late to choose; MuJoCo keeps what it picked
        os.environ["MUJOCO_GL"] = "egl" if torch.cuda.is_available() else "osmesa"


def caption(frame: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, 18), fill=(0, 0, 0))
    draw.text((6, 3), text, fill=(255, 255, 255))
    return np.asarray(image)


def record_video(
    act: Policy,
    obs_mode: str,
    tasks: list[str],
    path: Path,
    seconds: float = 10.0,
    fps: int = 25,
    size: tuple[int, int] = (480, 270),
    seed: int = 0,
    control: ControlSpec | None = None,
) -> int:
    """Play `seconds` of each task (episodes back to back) with `act` into `path` and its GIF
    (`gif_path`); returns the frames written. One env.step lasts `decimation` env steps, so a
    frame comes every `every` env.step calls and the clip's frame rate follows (10 fps for a
    0.1 s command decision)."""
    use_offscreen_gl()
    import imageio
    from rich.progress import Progress

    from soccer_td3.envs.build import make_task_env

    decimation = control.decimation if control else 1
    every = max(1, round(CONTROL_HZ / fps / decimation))
    fps = CONTROL_HZ / (decimation * every)
    frames_per_task = round(seconds * fps)
    written = 0
    gif_frames: list[np.ndarray] = []
    with (
        atomic_path(path) as tmp,
        imageio.get_writer(str(tmp), fps=fps, codec="libx264", macro_block_size=2) as writer,
        Progress(transient=True) as progress,
    ):
        for task in tasks:
            bar = progress.add_task(f"video {task}", total=frames_per_task)
            env = make_task_env(
                task,
                seed,
                obs_mode,
                control=control,
                render_mode="rgb_array",
                width=size[0],
                height=size[1],
            )
            obs, info = env.reset(seed=seed)
            step = task_frames = 0
            try:
                while task_frames < frames_per_task:
                    if step % every == 0:
                        frame = caption(env.render(), task)
                        writer.append_data(frame)
                        gif_frames.append(frame[::GIF_SCALE, ::GIF_SCALE].copy())
                        task_frames += 1
                        progress.update(bar, completed=task_frames)
                    obs, _, terminated, truncated, info = env.step(act(obs, info))
                    step += 1
                    if terminated or truncated:
                        obs, info = env.reset()
            finally:
                env.close()
            written += task_frames
    write_gif(gif_path(path), gif_frames, fps)
    return written
