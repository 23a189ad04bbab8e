"""report.md, curves.png and curves.svg from a set of runs: the measured answer to the seed's
"deep beats baseline" (its Part D), or to any other set of variants.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

from soccer_td3.files import write_text
from soccer_td3.reports.runs import RunResult
from soccer_td3.reports.summary import Variant, default_threshold, group_variants, number
from soccer_td3.training.run_dir import writable_dir

# seed-task3.md, Part D: what the seed claims for its recipe over the baseline.
PART_D_CLAIMS = (
    ("Network", "[256]", "[512, 256, 128, 64]", "13x larger, deeper"),
    ("Learning rate", "1e-4", "3e-4", "3x faster updates"),
    ("Batch size", "64", "256", "4x more stable"),
    ("Tau", "0.001", "0.005", "More aggressive updates"),
    ("Policy noise", "0.1", "0.2", "More robust Q-learning"),
)


def _net(sizes: list[int]) -> str:
    return "[" + ", ".join(map(str, sizes)) + "]"


def results_table(variants: list[Variant], threshold: float) -> list[str]:
    lines = [
        "| variant | actor / critic | parameters | seeds | steps/s | final eval return "
        "(95% CI) | final score (95% CI) | steps to return ≥ "
        f"{number(threshold)} (after learning starts) | curve roughness |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v in variants:
        steps, missed = v.steps_to(threshold)
        reach = str(steps) + (f" ({missed} never: counted at their last step)" if missed else "")
        lines.append(
            f"| {v.label} | {_net(v.config.networks.actor_net)} / "
            f"{_net(v.config.networks.critic_net)} | "
            f"{v.parameters:,} | {len(v.runs)} | {v.steps_per_second()} | "
            f"{v.final('mean_reward')} | {v.final('mean_score')} | {reach} | {v.roughness()} |"
        )
    return lines


def _verdict(better: bool | None) -> str:
    verdicts = {True: "holds", False: "does not hold", None: "inconclusive (CIs overlap or n<2)"}
    return verdicts[better]


def _compare(a, b, higher_is_better: bool) -> bool | None:
    """a beats b when both have 2+ seeds and their 95% CIs do not overlap; one seed settles
    nothing."""
    if not (math.isfinite(a.mean) and math.isfinite(b.mean)) or a.n < 2 or b.n < 2:
        return None
    if not (a.low > b.high or a.high < b.low):
        return None
    return a.mean > b.mean if higher_is_better else a.mean < b.mean


def part_d_table(baseline: Variant, deep: Variant, threshold: float) -> list[str]:
    lines = [
        f"| Parameter | Baseline (claimed) | Task 3 (claimed) | Claimed impact | "
        f"{baseline.label} (measured) | {deep.label} (measured) |",
        "|---|---|---|---|---|---|",
    ]
    b, d = baseline.config, deep.config
    measured = (
        (
            f"{_net(b.networks.actor_net)}, {baseline.parameters:,} weights",
            f"{_net(d.networks.actor_net)}, {deep.parameters:,} weights "
            f"({deep.parameters / baseline.parameters:.1f}x)",
        ),
        (f"{b.td3.learning_rate:g}", f"{d.td3.learning_rate:g}"),
        (str(b.td3.batch_size), str(d.td3.batch_size)),
        (f"{b.td3.tau:g}", f"{d.td3.tau:g}"),
        (f"{b.td3.target_policy_noise:g}", f"{d.td3.target_policy_noise:g}"),
    )
    for (name, claimed_b, claimed_d, impact), (mb, md) in zip(PART_D_CLAIMS, measured, strict=True):
        lines.append(f"| {name} | {claimed_b} | {claimed_d} | {impact} | {mb} | {md} |")
    lines += [
        "",
        "| Expected improvement (seed) | measured for " + baseline.label + " | "
        "measured for " + deep.label + " | verdict |",
        "|---|---|---|---|",
    ]
    steps_b, steps_d = baseline.steps_to(threshold)[0], deep.steps_to(threshold)[0]
    claims = (
        (f"Faster convergence (fewer steps to return ≥ {threshold:.3g})", steps_b, steps_d, False),
        (
            "Better final performance (final eval return)",
            baseline.final("mean_reward"),
            deep.final("mean_reward"),
            True,
        ),
        (
            "Better final performance (competition score)",
            baseline.final("mean_score"),
            deep.final("mean_score"),
            True,
        ),
        ("More stable training curve (roughness)", baseline.roughness(), deep.roughness(), False),
    )
    for claim, mb, md, higher in claims:
        lines.append(f"| {claim} | {mb} | {md} | {_verdict(_compare(md, mb, higher))} |")
    return lines


def plot_curves(variants: list[Variant], out: Path) -> list[Path]:
    """Eval return against env steps and against wall-clock minutes, mean with a 95% band."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.pyplot as plt

    figure, (by_steps, by_time) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for index, variant in enumerate(variants):
        steps, mean, band = variant.curve()
        minutes = variant.wall_clock() / 60.0
        colour = f"C{index}"
        for axis, x in ((by_steps, steps), (by_time, minutes)):
            axis.plot(x, mean, color=colour, label=variant.label, linewidth=2)
            axis.fill_between(x, mean - band, mean + band, color=colour, alpha=0.2, linewidth=0)
    starts = {v.config.td3.learning_starts for v in variants}
    for start in starts:
        by_steps.axvline(start, color="grey", linestyle="--", linewidth=1)
    by_steps.set_xlabel("env steps (dashed: learning starts)")
    by_time.set_xlabel("wall-clock minutes")
    for axis in (by_steps, by_time):
        axis.set_ylabel("eval return (mean over seeds, 95% band)")
        axis.grid(alpha=0.3)
        axis.legend()
    written = []
    for suffix in (".png", ".svg"):
        path = out.with_suffix(suffix)
        figure.savefig(path, dpi=110)
        written.append(path)
    plt.close(figure)
    return written


def write_report(runs: list[RunResult], out_dir: Path, threshold: float | None = None) -> Path:
    """report.md + curves.png/.svg in `out_dir`; returns report.md."""
    variants = group_variants(runs)
    threshold = default_threshold(variants) if threshold is None else threshold
    configs = [v.config for v in variants]
    tasks = sorted({t for c in configs for t in c.environment.env})
    unfinished = [r.path for r in runs if not r.finished]
    budgets = sorted({c.run.max_minutes for c in configs if c.run.max_minutes is not None})
    budget = (
        f"stopped after {' / '.join(f'{m:g}' for m in budgets)} wall-clock minutes (equal "
        "time: compare final figures, not steps), "
        if budgets
        else ""
    )
    lines = [
        f"# Comparison: {' vs '.join(v.label for v in variants)}",
        "",
        f"Tasks: {', '.join(tasks)}. Up to {max(r.steps for r in runs):,} env steps per run, "
        f"{budget}"
        f"evaluated every {configs[0].run.eval_freq:,} steps with {configs[0].run.eval_episodes} "
        "deterministic episode(s) per task. Written "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from {len(runs)} run folders.",
        "",
        "Means over seeds with 95% bootstrap confidence intervals in brackets. steps/s is "
        "wall-clock env steps per second including evaluations; runs that shared the "
        "machine's cores are slower than one run alone. Steps to threshold: the first "
        "evaluation after learning starts at or above it (a seed that never gets there counts "
        "at its last step); the default threshold is the final return of the weakest variant.",
        "",
        *results_table(variants, threshold),
        "",
    ]
    if min(len(v.runs) for v in variants) < 3:
        lines += [
            "With fewer than 3 seeds a bootstrap interval is little more than the range of the "
            "seeds: read the verdicts below as indications, and add seeds to settle them.",
            "",
        ]
    if unfinished:
        lines += [
            f"Unfinished runs (resume them with `soccer-td3 compare` again or `train --resume`): "
            f"{', '.join(map(str, unfinished))}",
            "",
        ]
    by_label = {v.label: v for v in variants}
    deep = by_label.get("balanced")
    if "baseline" in by_label and deep is not None:
        lines += [
            "## The seed's Part D, claimed and measured",
            "",
            *part_d_table(by_label["baseline"], deep, threshold),
            "",
        ]
    lines += ["## Learning curves", "", "![eval return](curves.png)", ""]
    writable_dir(out_dir, "--save-dir")
    plot_curves(variants, out_dir / "curves")
    report = out_dir / "report.md"
    write_text(report, "\n".join(lines))
    return report
