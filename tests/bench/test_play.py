"""bench/play.py end to end on tiny windows: every figure is measured (the real simulator, the
real `soccer-td3 train`), and the run ends with the two lines issue 27 reads. The figures
themselves are not tested (speed is measured by the benchmark, not by tests)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "play.py"
spec = importlib.util.spec_from_file_location("bench_play", BENCH)
play = importlib.util.module_from_spec(spec)
spec.loader.exec_module(play)


def test_play_measures_bare_and_ours_and_ends_with_the_ratios(capsys):
    play.main(
        ["--env-steps", "600", "--learning-starts", "300", "--warmup", "0",
         "--bare-seconds", "1"]
    )  # fmt: skip
    lines = capsys.readouterr().out.strip().splitlines()
    figures = {line.split(":")[0]: line for line in lines if ":" in line}
    for label in ("bare, 1 core", "bare, 2 cores", "ours, 1 core", "ours, 2 cores"):
        assert float(figures[label].split(":")[1].split()[0]) > 0, figures[label]
    assert "updates/s" in figures["ours, 1 core"]
    ratio, scaling = lines[-2:]
    assert ratio.startswith("ratio_bare=") and float(ratio.split("=")[1]) > 0
    assert scaling.startswith("scaling_2cores=") and float(scaling.split("=")[1]) > 0
