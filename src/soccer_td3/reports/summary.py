"""Runs grouped into variants (same settings, different seeds) and the statistics of each.

Confidence intervals are 95% percentile bootstraps over seeds (scipy): with 3-5 seeds they are
wide, which is the honest answer; with one seed there is none (shown as n/a).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap

from soccer_td3.reports.runs import EvalPoint, RunResult, preset_of

# Settings that differ between seeds of one variant, or do not change what is learned.
NOT_A_VARIANT = {
    "seed",
    "device",
    "cpu_matmul",  # retired (issue 27); older runs recorded the backend auto picked
    "log_interval",
    "checkpoint_freq",
    "keep_checkpoints",
}


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        if not math.isfinite(self.mean):
            return "n/a"
        if self.n < 2:
            return f"{number(self.mean)} (n=1)"
        return f"{number(self.mean)} [{number(self.low)}, {number(self.high)}]"


def number(value: float) -> str:
    """Three significant digits, but step counts and the like in full (12,000, not 1.2e+04)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def interval(values: list[float], seed: int = 0) -> Interval:
    data = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if data.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(data.mean())
    if data.size < 2 or np.ptp(data) == 0:
        return Interval(mean, mean, mean, int(data.size))
    result = bootstrap(
        (data,), np.mean, confidence_level=0.95, method="percentile", rng=seed, n_resamples=2000
    )
    ci = result.confidence_interval
    return Interval(mean, float(ci.low), float(ci.high), int(data.size))


@dataclass(frozen=True)
class Variant:
    label: str
    runs: list[RunResult]

    @property
    def config(self):
        return self.runs[0].config

    @property
    def parameters(self) -> int:
        return self.runs[0].parameters

    def steps_per_second(self) -> Interval:
        return interval([r.steps_per_second for r in self.runs])

    @property
    def complete_runs(self) -> list[RunResult]:
        """The finished seeds, when there are any: an interrupted seed's last evaluation is
        early in its training and would drag a "final" figure down."""
        return [r for r in self.runs if r.finished] or self.runs

    def final(self, field: str) -> Interval:
        """The last evaluation of each seed: `mean_reward` (env return) or `mean_score`."""
        return interval([getattr(r.curve[-1], field) for r in self.complete_runs if r.curve])

    def steps_to(self, threshold: float) -> tuple[Interval, int]:
        """First step after learning started whose evaluation reaches `threshold`, and how
        many seeds never did. A seed that never did counts at its last step (it took at least
        that long), so a variant is not flattered by leaving out its slow seeds. Evaluations
        during the random warm-up do not count: an untrained actor that happens to stand still
        is not learning."""
        steps, missed = [], 0
        for run in self.complete_runs:
            learned = [p for p in run.curve if p.step > run.config.td3.learning_starts]
            hit = next((p.step for p in learned if p.mean_reward >= threshold), None)
            missed += hit is None
            steps.append(float(hit if hit is not None else run.steps))
        return interval(steps), missed

    def roughness(self) -> Interval:
        """Mean |second difference| of the eval return after learning starts: lower is a
        steadier curve (the seed's "more stable training"). Second differences, so a steady
        climb counts as smooth, not as instability."""
        values = []
        for run in self.complete_runs:
            learned = [p.mean_reward for p in run.curve if p.step > run.config.td3.learning_starts]
            if len(learned) > 2:
                values.append(float(np.mean(np.abs(np.diff(learned, n=2)))))
        return interval(values)

    def curve(self, field: str = "mean_reward") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Evaluated steps, mean over seeds and a 95% band (mean ± 1.96 standard errors), on
        the steps every seed evaluated at."""
        by_step: dict[int, list[EvalPoint]] = {}
        for run in self.runs:
            for point in run.curve:
                by_step.setdefault(point.step, []).append(point)
        steps = sorted(s for s, points in by_step.items() if len(points) == len(self.runs))
        values = np.array([[getattr(p, field) for p in by_step[s]] for s in steps]).reshape(
            len(steps), len(self.runs)
        )
        mean = values.mean(axis=1) if len(steps) else np.zeros(0)
        sem = values.std(axis=1, ddof=1) / np.sqrt(len(self.runs)) if len(self.runs) > 1 else 0
        return np.asarray(steps), mean, 1.96 * sem * np.ones_like(mean)

    def wall_clock(self) -> np.ndarray:
        """Mean wall-clock seconds at each step of `curve()`."""
        steps = self.curve()[0]
        return np.array(
            [np.mean([p.seconds for r in self.runs for p in r.curve if p.step == s]) for s in steps]
        )


def group_variants(runs: list[RunResult]) -> list[Variant]:
    """Runs whose settings differ only in the seed form one variant, named after its preset."""
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        settings = {k: v for k, v in run.config.flat().items() if k not in NOT_A_VARIANT}
        groups.setdefault(repr(sorted(settings.items())), []).append(run)
    variants, used = [], {}
    for group in groups.values():
        label = group[0].label or preset_of(group[0].config)
        used[label] = used.get(label, 0) + 1
        if used[label] > 1:
            label = f"{label} #{used[label]}"
        variants.append(Variant(label, sorted(group, key=lambda r: r.config.run.seed)))
    return variants


def default_threshold(variants: list[Variant]) -> float:
    """The return the weakest variant ends at: every variant's mean can reach it, so "steps to
    threshold" asks who gets there first."""
    finals = [v.final("mean_reward").mean for v in variants]
    finals = [f for f in finals if math.isfinite(f)]
    return min(finals) if finals else float("nan")
