from soccer_td3.reports.report import write_report
from soccer_td3.reports.runs import find_runs
from tests.reports.run_folders import write_run


def _part_d(report_text: str) -> dict[str, str]:
    """Claim -> verdict, from the Part D table of expected improvements."""
    rows = {}
    for line in report_text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith(("Faster", "Better", "More stable")):
            rows[cells[0]] = cells[3]
    return rows


def _verdict(verdicts: dict[str, str], words: str) -> str:
    (verdict,) = [v for claim, v in verdicts.items() if words in claim]
    return verdict


def test_part_d_verdicts_follow_the_measurements(tmp_path):
    for seed in range(3):
        # The deep preset ends far higher.
        write_run(tmp_path / f"base{seed}", [0, 10, 20 + seed, 30 + seed], "baseline", seed)
        write_run(tmp_path / f"deep{seed}", [0, 10, 60 + seed, 90 + seed], "balanced", seed)
    text = write_report(find_runs([tmp_path]), tmp_path / "out").read_text()
    verdicts = _part_d(text)
    assert _verdict(verdicts, "final eval return") == "holds"
    assert _verdict(verdicts, "competition score") == "holds"
    # The threshold is the weakest final return, 31: deep passes it at 3,000 steps, baseline
    # at 4,000 (its seed 0 never does and counts at its last step, 4,000).
    assert "≥ 31)" in text
    assert _verdict(verdicts, "Faster convergence") == "holds"
    # The deep curve's bigger jumps after learning starts make it the rougher one.
    assert _verdict(verdicts, "More stable") == "does not hold"
    assert "13.3x" in text  # the network's size, measured
    assert "With fewer than 3 seeds" not in text


def test_one_seed_settles_no_claim(tmp_path):
    write_run(tmp_path / "base", [0, 10, 20, 30], "baseline")
    write_run(tmp_path / "deep", [0, 10, 60, 90], "balanced")
    text = write_report(find_runs([tmp_path]), tmp_path / "out").read_text()
    assert set(_part_d(text).values()) == {"inconclusive (CIs overlap or n<2)"}
    assert "With fewer than 3 seeds" in text


def test_set_aside_folders_are_not_runs(tmp_path):
    write_run(tmp_path / "balanced" / "seed0", [0, 1, 2])
    write_run(tmp_path / "balanced" / "seed0.incomplete1", [5, 5])
    assert [r.path.name for r in find_runs([tmp_path])] == ["seed0"]
