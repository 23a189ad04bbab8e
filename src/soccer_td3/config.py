"""The single source of every number of a run: TrainConfig, its presets, YAML in and out.

Each field's description is its help text (`soccer-td3 train --help` and README). The defaults
are the seed's Task 3 recipe; presets are data (overrides of those defaults), not code paths.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from soccer_td3.envs.observation import FEATURE_TASKS
from soccer_td3.envs.registry import TASKS
from soccer_td3.envs.shaping import (
    DEFAULT_SHAPING,
    SHAPING_TERMS,
    ShapingWeights,
    resolve_shaping,
)
from soccer_td3.errors import UserError
from soccer_td3.files import read_text, write_text
from soccer_td3.skills.clock import SKILL_EVERY

if TYPE_CHECKING:
    from soccer_td3.envs.control import ControlSpec

DEFAULT_TASK = "LowerT1GoaliePenaltyKick-v0"


def parse_net(value: Any) -> list[int]:
    """Accept `512,256,128,64`, `[512, 256]` or a list of ints; hidden sizes must be positive."""
    if isinstance(value, str):
        text = value.strip().strip("[]")
        parts = [p.strip() for p in text.split(",")]
        try:
            value = [int(p) for p in parts]
        except ValueError:
            raise ValueError(
                f"net {value!r} is not a comma-separated list of layer sizes; "
                "write it like 512,256,128,64"
            ) from None
    if isinstance(value, int):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"net {value!r} must list at least one layer size, like 512,256,128,64")
    sizes = []
    for size in value:
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(
                f"net {value!r} has {size!r}; every layer size must be a positive integer, "
                "like 512,256,128,64"
            )
        sizes.append(size)
    return sizes


# Settings that no longer exist, and the values they may still hold in a config.yaml, a --set or
# a flag: what each did is now what always happens. cpu_matmul chose oneDNN or BLAS for the CPU
# products; it chose BLAS on every machine measured, and issue 27 removed the oneDNN path.
RETIRED_SETTINGS: dict[str, tuple[str, ...]] = {"cpu_matmul": ("auto", "blas", "onednn")}


def drop_retired_settings(values: dict[str, Any]) -> None:
    """Remove retired settings from `values`, saying so when the value asked for something that
    no longer happens (cpu_matmul onednn: the products now run on BLAS)."""
    for key, accepted in RETIRED_SETTINGS.items():
        if key not in values:
            continue
        value = values.pop(key)
        if value not in accepted:
            raise ValueError(
                f"{key}={value!r} is invalid, and {key} is retired: drop it (it accepted "
                f"{', '.join(accepted)})"
            )
        if key == "cpu_matmul" and value == "onednn":
            print(
                "note: cpu_matmul onednn is retired; this run's products run on torch's BLAS, "
                "as cpu_matmul auto chose on every machine measured",
                file=sys.stderr,
            )


FROZEN = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
"""Every part's rules. allow_inf_nan: a learning rate of inf (or 1e400, which YAML reads as inf)
would pass the bounds and diverge at the first update; every float setting must be finite."""


class EnvironmentSettings(BaseModel):
    """What the agent plays: the tasks, what it observes, what an action is, and the reward."""

    model_config = FROZEN

    env: list[str] = Field(
        default_factory=lambda: [DEFAULT_TASK],
        description="Task id(s) to train on (see `soccer-td3 envs`).",
    )
    obs: Literal["auto", "raw", "features", "commander"] = Field(
        "auto",
        description="Observation: the task's own (raw, one task only), the shared feature "
        "vector of envs/observation.py (features), or the commander's heading-frame view of "
        "ball, target, keeper and defenders (envs/commander.py; control command only); auto = "
        "commander with control command, else raw for one task and features for several.",
    )
    control: Literal["torque", "pd", "command"] = Field(
        "torque",
        description="What an action is: joint torques (the seed's); pd: joint targets around "
        "pd_pose that a PD law turns into torques at every env step; command: a walking "
        "command (forward, left, yaw rate) that the shipped T1 walking skill plays out.",
    )
    decimation: int = Field(
        1,
        gt=0,
        description="Env steps each policy action lasts (the official controller: 10). With "
        "control command it is the decision period, a multiple of 10 (the skill runs at 50 Hz); "
        "left unset it is 50 there (0.1 s).",
    )
    command_low: list[float] = Field(
        default_factory=lambda: [-0.5, -0.5, -1.0],
        description="Command control: the command of action -1, forward m/s, left m/s, yaw "
        "rad/s (within the skill's trained -1..1).",
    )
    command_high: list[float] = Field(
        default_factory=lambda: [1.0, 0.5, 1.0],
        description="Command control: the command of action +1 (within the skill's trained -1..1).",
    )
    prior: Literal["none", "chaser"] = Field(
        "none",
        description="Command control: none, or chaser: the learned action is added to the "
        "scripted chaser's (envs/chaser.py) before clipping.",
    )
    pd_kp: list[float] = Field(
        default_factory=lambda: [200.0, 200.0, 200.0, 200.0, 50.0, 50.0] * 2,
        description="PD stiffness per joint, N·m/rad (hip pitch, roll, yaw, knee, ankle "
        "pitch, roll; left then right).",
    )
    pd_kd: list[float] = Field(
        default_factory=lambda: [5.0, 5.0, 5.0, 5.0, 1.0, 1.0] * 2,
        description="PD damping per joint, N·m·s/rad.",
    )
    pd_pose: list[float] = Field(
        default_factory=lambda: [-0.2, 0.0, 0.0, 0.4, -0.25, 0.0] * 2,
        description="Standing pose the PD targets are offsets from, rad per joint.",
    )
    pd_action_scale: float = Field(
        1.0, gt=0, description="Target offset in rad of a full action of 1 (pd control)."
    )
    pd_balance: list[float] = Field(
        default_factory=lambda: [0.0, 0.0],
        description="Ankle-pitch feedback added to the PD targets at every env step: rad per "
        "unit of forward tilt (gravity x in the torso frame) and per rad/s of pitch rate "
        "(gyro y). 0,0 is the official controller (the pose falls at ~576 env steps); 2,0.05 "
        "stands through 5000, 4,0.1 also under action noise. Needs control pd and obs features.",
    )
    shaping: ShapingWeights = Field(
        default_factory=ShapingWeights,
        description="Reward shaping: none, default (README, 'Reward shaping') or a YAML file "
        f"of term weights ({', '.join(SHAPING_TERMS)}, env_reward, potential_gamma).",
    )

    @field_validator("env", mode="before")
    @classmethod
    def _one_or_many_envs(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("env")
    @classmethod
    def _known_tasks(cls, value: list[str]) -> list[str]:
        for task_id in value:
            if task_id not in TASKS:
                raise ValueError(f"unknown env id {task_id!r}; valid ids: {', '.join(TASKS)}")
        return value

    @field_validator("pd_kp", "pd_kd", "pd_pose", mode="before")
    @classmethod
    def _per_joint(cls, value: Any) -> Any:
        return number_list(value, 12, "one per joint, like 200,200,...")

    @field_validator("command_low", "command_high", mode="before")
    @classmethod
    def _three_commands(cls, value: Any) -> Any:
        return number_list(value, 3, "forward, left and yaw rate, like -0.5,-0.5,-1")

    @field_validator("command_low", "command_high")
    @classmethod
    def _within_the_skill(cls, value: list[float]) -> list[float]:
        if any(not -1.0 <= v <= 1.0 for v in value):
            raise ValueError(
                f"{value} leaves the walking skill's trained range: each command within -1..1 "
                "(m/s, m/s, rad/s)"
            )
        return value

    @field_validator("pd_balance", mode="before")
    @classmethod
    def _two_gains(cls, value: Any) -> Any:
        return number_list(value, 2, "tilt and rate gains, like 2,0.05")

    @field_validator("shaping", mode="before")
    @classmethod
    def _resolve_shaping(cls, value: Any) -> Any:
        return resolve_shaping(value)

    @model_validator(mode="before")
    @classmethod
    def _command_period(cls, values: Any) -> Any:
        """A command decision lasts 0.1 s unless decimation is given: 50 env steps."""
        if isinstance(values, dict) and values.get("control") == "command":
            values = {"decimation": 50} | values
        return values

    @model_validator(mode="after")
    def _consistent(self) -> EnvironmentSettings:
        if not self.env:
            raise ValueError("env is empty; give at least one task id (see `soccer-td3 envs`)")
        if len({TASKS[t].act_dim for t in self.env}) > 1:
            raise ValueError(
                "the tasks have different action sizes; train tasks of one robot together"
            )
        if self.obs == "raw" and len(self.env) > 1:
            raise ValueError(
                "obs raw takes one task (the tasks' own observations differ in size); "
                "use obs features for several tasks"
            )
        if self.observation_mode == "features":
            unsupported = [t for t in self.env if t not in FEATURE_TASKS]
            if unsupported:
                raise ValueError(
                    f"obs features has no layout for {', '.join(unsupported)}; it covers "
                    f"{', '.join(FEATURE_TASKS)} (use obs raw for a single other task)"
                )
        if self.control == "command":
            self._check_command()
        elif self.obs == "commander":
            raise ValueError("obs commander is the view of control command; set control command")
        if any(self.pd_balance) and (self.control != "pd" or self.observation_mode != "features"):
            raise ValueError(
                "pd_balance moves PD targets and the submission reads the tilt from the "
                "feature vector: use it with control pd and obs features (or set it to 0,0)"
            )
        return self

    def _check_command(self) -> None:
        if self.obs not in ("auto", "commander"):
            raise ValueError("control command observes through obs commander (or auto)")
        unsupported = [t for t in self.env if t not in FEATURE_TASKS]
        if unsupported:
            raise ValueError(
                f"control command drives the lower-body T1 tasks ({', '.join(FEATURE_TASKS)}), "
                f"not {', '.join(unsupported)}"
            )
        if self.decimation % SKILL_EVERY:
            raise ValueError(
                f"decimation {self.decimation} with control command must be a multiple of "
                f"{SKILL_EVERY} env steps (the walking skill decides at 50 Hz), like 50"
            )
        if any(lo >= hi for lo, hi in zip(self.command_low, self.command_high, strict=True)):
            raise ValueError(
                f"command_low {self.command_low} must lie below command_high {self.command_high} "
                "in each of forward, left and yaw rate"
            )

    @property
    def control_spec(self) -> ControlSpec:
        from soccer_td3.envs.control import ControlSpec  # torch: not for --help or a bad flag

        return ControlSpec(
            control=self.control,
            decimation=self.decimation,
            kp=tuple(self.pd_kp),
            kd=tuple(self.pd_kd),
            pose=tuple(self.pd_pose),
            action_scale=self.pd_action_scale,
            balance=(self.pd_balance[0], self.pd_balance[1]),
            command_low=tuple(self.command_low),
            command_high=tuple(self.command_high),
            prior=self.prior,
        )

    @property
    def observation_size(self) -> int:
        from soccer_td3.envs.build import observation_size

        return observation_size(self.observation_mode, self.env[0])

    @property
    def action_size(self) -> int:
        from soccer_td3.envs.command import COMMAND_SIZE

        return COMMAND_SIZE if self.control == "command" else TASKS[self.env[0]].act_dim

    @property
    def observation_mode(self) -> str:
        if self.obs == "auto":
            if self.control == "command":
                return "commander"
            return "raw" if len(self.env) == 1 else "features"
        return self.obs


class TD3Settings(BaseModel):
    """How TD3 learns: optimiser, replay, targets, noise, and what runs before learning."""

    model_config = FROZEN

    learning_rate: float = Field(3e-4, gt=0, description="Adam learning rate of actor and critic.")
    batch_size: int = Field(256, gt=0, description="Transitions per gradient step.")
    buffer_size: int = Field(1_000_000, gt=0, description="Replay buffer capacity (transitions).")
    learning_starts: int = Field(
        10_000, ge=0, description="Steps of uniform random actions before learning starts."
    )
    train_freq: int = Field(
        1,
        gt=0,
        description="Transitions between training rounds (a transition is one env step, or "
        "`decimation` of them).",
    )
    gradient_steps: int = Field(1, gt=0, description="Gradient steps per training round.")
    tau: float = Field(0.005, gt=0, le=1, description="Polyak coefficient of the target nets.")
    gamma: float = Field(0.99, ge=0, lt=1, description="Discount factor.")
    policy_delay: int = Field(2, gt=0, description="Critic steps per actor (and target) update.")
    target_policy_noise: float = Field(
        0.2, ge=0, description="Std of the smoothing noise on target actions (normalised units)."
    )
    target_noise_clip: float = Field(
        0.5, ge=0, description="Clip of the target smoothing noise (normalised units)."
    )
    exploration_noise: float = Field(
        0.1, ge=0, description="Std of the Gaussian exploration noise on the normalised action."
    )
    actor_l2: float = Field(
        0.0,
        ge=0,
        description="0: TD3's actor loss; > 0: -Q / mean|Q| + this * mean(action^2), which "
        "keeps a residual policy near zero unless Q clearly pays (TD3+BC's normalisation).",
    )
    warmup: Literal["random", "policy"] = Field(
        "random",
        description="Actions before learning_starts: uniform random (SB3's), or the initial "
        "actor with exploration noise (with actor_last_layer_init and pd_balance: a robot that "
        "stands and sways, so the critic first learns what standing is worth).",
    )
    critic_warmup: int = Field(
        0,
        ge=0,
        description="Env steps after learning_starts in which only the critic learns (the "
        "actor waits, the targets still follow), so the actor does not chase a critic that "
        "has not learnt yet.",
    )

    @model_validator(mode="after")
    def _batch_fits(self) -> TD3Settings:
        if self.batch_size > self.buffer_size:
            raise ValueError(
                f"batch_size {self.batch_size} exceeds buffer_size {self.buffer_size}; "
                "lower batch_size or raise buffer_size"
            )
        return self


class NetworkSettings(BaseModel):
    """The actor's and critics' shapes, their first weights and the observation normaliser."""

    model_config = FROZEN

    actor_net: list[int] = Field(
        default_factory=lambda: [512, 256, 128, 64],
        description="Actor hidden layer sizes, e.g. 512,256,128,64.",
    )
    critic_net: list[int] = Field(
        default_factory=lambda: [512, 256, 128, 64],
        description="Critic hidden layer sizes (each of the twin Qs), e.g. 512,256,128,64.",
    )
    activation: Literal["relu", "tanh", "elu"] = Field(
        "relu", description="Hidden-layer activation of actor and critics."
    )
    actor_last_layer_init: float = Field(
        0.0,
        ge=0,
        description="0: PyTorch's default init; > 0: the actor's last layer uniform in +-this "
        "(DDPG's 3e-3), so the first policy acts near zero (over pd_balance: it stands).",
    )
    obs_norm: bool = Field(
        False,
        description="Normalise observations by a running mean and variance of those collected "
        "(frozen in evaluation; saved with the weights, checkpoints and export).",
    )
    obs_norm_clip: float = Field(
        10.0, gt=0, description="Normalised observations are clipped to +-this."
    )
    init_from: str | None = Field(
        None,
        description="Start from these weights: a soccer_td3 weight file or run folder, or a "
        "stable-baselines3 TD3 .zip (actor, and critic when present).",
    )

    @field_validator("actor_net", "critic_net", mode="before")
    @classmethod
    def _parse_net(cls, value: Any) -> list[int]:
        return parse_net(value)


class SpeedSettings(BaseModel):
    """How fast it runs; none of these changes the maths (bf16 rounds the matmul inputs)."""

    model_config = FROZEN

    num_envs: int = Field(
        1,
        gt=0,
        description="Env copies per task, stepped together; gradient steps per env step are kept.",
    )
    async_envs: bool = Field(
        False,
        description="Step each env in a process of its own, one torch thread each, while the "
        "learner (one thread) makes the previous step's updates; pays when an env step is "
        "costly, as a walking-command decision of 50 physics steps is.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Learner device; auto picks cuda when available."
    )
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="Matmul precision of the update: bf16 autocast (AMX / tensor cores)."
    )
    compile: bool = Field(
        False, description="torch.compile the update (CUDA graphs on GPU); costs a warm-up."
    )


class RunSettings(BaseModel):
    """The run around the learner: budget, seed, evaluations, checkpoints, red flags, logs."""

    model_config = FROZEN

    timesteps: int = Field(5_000_000, gt=0, description="Total environment steps to train for.")
    max_minutes: float | None = Field(
        None,
        gt=0,
        description="Also stop after this many wall-clock minutes (evaluations included, summed "
        "over resumes), with a last evaluation and the final model as at `timesteps`: runs of "
        "different speeds then compare at equal time.",
    )
    seed: int = Field(
        0,
        ge=0,
        le=2**32 - 1,  # what every seeded library here takes (numpy's legacy seeding is 32-bit)
        description="Seed for the envs, the networks and the noise.",
    )
    eval_freq: int = Field(
        0, ge=0, description="Env steps between evaluations (0: none); the best is kept in best/."
    )
    eval_episodes: int = Field(
        5, gt=0, description="Deterministic episodes per task per evaluation."
    )
    checkpoint_freq: int = Field(
        50_000,
        ge=0,
        description="Env steps between checkpoints (0: none; Ctrl-C still writes one).",
    )
    keep_checkpoints: int = Field(2, gt=0, description="How many recent checkpoints to keep.")
    log_interval: int = Field(1000, gt=0, description="Env steps between metric rows.")
    strict_redflags: bool = Field(
        False, description="Stop (exit 3, after a checkpoint) on exploding-loss/non-finite flags."
    )
    redflag_window: int = Field(
        50_000, gt=0, description="Env steps a red-flag trend is judged over."
    )
    redflag_loss_growth: float = Field(
        100.0, gt=1, description="Loss magnitude growth within the window that counts as exploding."
    )
    redflag_q_limit: float = Field(1e4, gt=0, description="|train/q_mean| beyond which Q explodes.")
    redflag_min_fps: float = Field(
        10.0, ge=0, description="Env steps/s below which training is slow."
    )


# The parts of a TrainConfig, in the order of `--help` and config.yaml. Every setting's name is
# unique across them, so a flat key (a flag, --set, an old config.yaml, a study's stored
# config) names its part without saying it.
PARTS: dict[str, type[BaseModel]] = {
    "environment": EnvironmentSettings,
    "td3": TD3Settings,
    "networks": NetworkSettings,
    "speed": SpeedSettings,
    "run": RunSettings,
}
SETTINGS: dict[str, FieldInfo] = {
    name: info for part in PARTS.values() for name, info in part.model_fields.items()
}
PART_OF: dict[str, str] = {
    name: part_name for part_name, part in PARTS.items() for name in part.model_fields
}


def flatten(values: dict[str, Any]) -> dict[str, Any]:
    """Settings written either way (`td3: {gamma: 0.9}` or `gamma: 0.9`) as flat keys, so that
    a preset, a nested config.yaml and a flag merge key by key."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if key in PARTS and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


class TrainConfig(BaseModel):
    """Everything a training run depends on, in five parts. Validated on construction and on
    assignment; built from nested parts or from flat settings (`TrainConfig(gamma=0.9)`)."""

    model_config = FROZEN

    environment: EnvironmentSettings = Field(default_factory=EnvironmentSettings)
    td3: TD3Settings = Field(default_factory=TD3Settings)
    networks: NetworkSettings = Field(default_factory=NetworkSettings)
    speed: SpeedSettings = Field(default_factory=SpeedSettings)
    run: RunSettings = Field(default_factory=RunSettings)

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, values: Any) -> Any:
        """Flat settings into their parts; retired ones dropped (RETIRED_SETTINGS), so old
        config.yaml files, studies and command lines still load. An unknown key stays at the
        top, where `extra="forbid"` names it."""
        if not isinstance(values, dict):
            return values
        flat = flatten(values)
        drop_retired_settings(flat)
        nested: dict[str, Any] = {}
        for key, value in flat.items():
            part = PART_OF.get(key)
            if part is None:
                nested[key] = value
            else:
                nested.setdefault(part, {})[key] = value
        return nested

    def flat(self, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """Every setting by its own name: what flags, --set, studies and reports speak."""
        return flatten(self.model_dump(mode=mode))

    def replace(self, **settings: Any) -> TrainConfig:
        """A validated copy with some settings changed, by their flat names."""
        return TrainConfig(**(self.flat() | settings))

    def to_yaml(self, path: Path) -> None:
        write_text(path, yaml.safe_dump(self.model_dump(), sort_keys=False))


def number_list(value: Any, size: int, example: str) -> Any:
    """A flag's `1,2,3` (or a YAML list) as `size` numbers; anything else is refused."""
    if isinstance(value, str):
        try:
            value = [float(v) for v in value.strip().strip("[]").split(",")]
        except ValueError:
            raise ValueError(f"{value!r} is not a comma-separated list of numbers") from None
    if not isinstance(value, list | tuple) or len(value) != size:
        raise ValueError(f"{value!r} needs {size} values, {example}")
    return value


# The seed's presets (seed-task3.md, Parts A and D); balanced is the recipe default. `fast` is
# issue 17's: a residual policy over a balanced PD stance, chosen by the curves in README.
FAST_PRESET: dict[str, Any] = {
    "control": "pd",
    "decimation": 10,
    "pd_balance": [4.0, 0.1],
    "pd_action_scale": 0.5,
    "obs": "features",
    "obs_norm": True,
    "actor_last_layer_init": 3e-3,
    "warmup": "policy",
    "learning_starts": 20_000,
    "critic_warmup": 50_000,
    "actor_l2": 10.0,
    "actor_net": [256, 256],
    "critic_net": [256, 256],
    "shaping": DEFAULT_SHAPING.model_dump() | {"action": 1.0},
}
# Issue 26's: TD3 over walking commands (envs/command.py), one decision per 0.1 s. Reward: what
# the competition scores, paid at the episode's end, plus potentials that lead there (robot to
# ball, ball to target) and a fall penalty; the env's own dense reward is left out (its goal
# term pays 25 per physics step). gamma 0.98 per decision: a 5 s horizon, a goal's timescale.
SOCCER_PRESET: dict[str, Any] = {
    "control": "command",
    "obs": "commander",
    "actor_net": [256, 256],
    "critic_net": [256, 256],
    "gamma": 0.98,
    "learning_starts": 25_000,
    "gradient_steps": 2,
    "exploration_noise": 0.2,
    "obs_norm": True,
    "num_envs": 2,
    "async_envs": True,  # 1.7x the env steps/s of one env in-process (744 against 439)
    "max_minutes": 30.0,
    "eval_freq": 100_000,
    "eval_episodes": 5,
    "checkpoint_freq": 250_000,
    "log_interval": 10_000,
    "shaping": {
        "env_reward": 0.0,
        "potential_gamma": 1.0,
        "away_from_ball": 1.0,
        "toward_target": 3.0,
        "competition": 1.0,
        "fall": 5.0,
    },
}
PRESETS: dict[str, dict[str, Any]] = {
    "balanced": {},
    "large": {"actor_net": [1024, 512, 256, 128], "critic_net": [1024, 512, 256, 128]},
    "very-deep": {
        "actor_net": [256, 256, 256, 256, 128],
        "critic_net": [256, 256, 256, 256, 128],
    },
    "baseline": {
        "actor_net": [256],
        "critic_net": [256],
        "learning_rate": 1e-4,
        "batch_size": 64,
        "tau": 0.001,
        "target_policy_noise": 0.1,
    },
    "fast": FAST_PRESET,
    "soccer": SOCCER_PRESET,
}


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field, its value and what it must be."""
    parts = []
    for item in error.errors():
        location = item["loc"][1:] if item["loc"][:1] and item["loc"][0] in PARTS else item["loc"]
        field = ".".join(str(p) for p in location) or "config"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            known = ", ".join(SETTINGS)
            parts.append(f"unknown setting {field!r}; known settings: {known}")
        elif item["type"].startswith(("greater", "less")):
            bound = message.removeprefix("Input should be ")
            parts.append(f"{field}={item['input']} is invalid: it must be {bound}")
        else:
            parts.append(f"{field}: {message}")
    return "invalid config: " + "; ".join(parts)


def parse_set_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` strings to a dict; values are read as YAML so numbers and lists work."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UserError(
                f"--set {pair!r} is not key=value; write it like --set learning_rate=5e-4"
            )
        if key not in SETTINGS:
            known = ", ".join(SETTINGS)
            raise UserError(f"--set {pair!r}: unknown setting {key!r}; known settings: {known}")
        try:
            overrides[key] = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            overrides[key] = raw
    return overrides


def load_yaml(path: Path) -> dict[str, Any]:
    text = read_text(path, "config file", "pass a YAML file of settings to --config")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(
            f"config file {path} is not valid YAML ({exc.__class__.__name__}); fix it"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of setting: value")
    return data


def build_config(
    preset: str = "balanced",
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    command_defaults: dict[str, Any] | None = None,
) -> TrainConfig:
    """Preset < a command's own defaults (compare's 100000 steps) < config file < overrides
    (`--set`, then flags); validated once, at the end."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    values = flatten(PRESETS[preset]) | flatten(command_defaults or {})
    if config_file is not None:
        values.update(flatten(load_yaml(config_file)))
    values.update(flatten(overrides or {}))
    try:
        return TrainConfig(**values)
    except ValidationError as exc:
        raise UserError(describe_validation_error(exc)) from None
