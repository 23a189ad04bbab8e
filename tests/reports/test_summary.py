from soccer_td3.reports.runs import find_runs
from soccer_td3.reports.summary import default_threshold, group_variants, interval
from tests.reports.run_folders import write_run


def test_interval_is_a_bootstrap_over_seeds_and_says_when_there_is_one_seed():
    ci = interval([1.0, 2.0, 3.0, 4.0])
    assert ci.mean == 2.5 and 1.0 <= ci.low < 2.5 < ci.high <= 4.0 and ci.n == 4
    assert str(interval([5.0])) == "5 (n=1)"
    assert str(interval([])) == "n/a"
    assert str(interval([12_000.0, 14_000.0])).startswith("13,000 [")


def test_seeds_of_a_variant_group_together_and_unfinished_seeds_do_not_count_as_final(tmp_path):
    write_run(tmp_path / "a", [10, 20, 30], seed=0)
    write_run(tmp_path / "b", [10, 20, 40], seed=1)
    write_run(tmp_path / "c", [10, 5], seed=2, finished=False)  # interrupted early
    write_run(tmp_path / "d", [1, 2, 3], preset="baseline")
    deep, base = group_variants(find_runs([tmp_path]))
    assert (deep.label, len(deep.runs), base.label) == ("balanced", 3, "baseline")
    assert deep.final("mean_reward").mean == 35.0  # finished seeds only
    assert default_threshold([deep, base]) == 3.0


def test_steps_to_threshold_counts_a_seed_that_never_reaches_it_at_its_last_step(tmp_path):
    write_run(tmp_path / "a", [50, 10, 30, 60], seed=0)  # 50 is the warm-up: no credit
    write_run(tmp_path / "b", [50, 10, 20, 20], seed=1)  # never after learning starts
    (variant,) = group_variants(find_runs([tmp_path]))
    steps, missed = variant.steps_to(25.0)
    assert missed == 1
    assert steps.mean == (3000 + 4000) / 2


def test_roughness_is_zero_for_a_steady_climb_and_positive_for_a_zigzag(tmp_path):
    write_run(tmp_path / "steady", [0, 10, 20, 30, 40], seed=0)
    write_run(tmp_path / "zigzag", [0, 10, 40, 10, 40], seed=0, learning_rate=1e-3)
    steady, zigzag = group_variants(find_runs([tmp_path / "steady", tmp_path / "zigzag"]))
    assert steady.roughness().mean == 0.0
    assert zigzag.roughness().mean == 60.0


def test_mean_curve_has_a_band_only_with_several_seeds(tmp_path):
    write_run(tmp_path / "a", [0, 10], seed=0)
    write_run(tmp_path / "b", [2, 14], seed=1)
    (variant,) = group_variants(find_runs([tmp_path]))
    steps, mean, band = variant.curve()
    assert list(steps) == [1000, 2000] and list(mean) == [1.0, 12.0]
    assert all(b > 0 for b in band)
    assert list(variant.wall_clock()) == [10.0, 20.0]
    (single,) = group_variants(find_runs([tmp_path / "a"]))
    assert list(single.curve()[2]) == [0.0, 0.0]


def test_labels_name_the_preset_or_what_differs_from_the_nearest(tmp_path):
    write_run(tmp_path / "a", [1, 2], preset="baseline", learning_rate=5e-4)
    write_run(tmp_path / "b", [1, 2], preset="baseline", actor_net=[512, 256, 128, 64])
    labels = [v.label for v in group_variants(find_runs([tmp_path / "a", tmp_path / "b"]))]
    assert labels[0] == "baseline + learning_rate=0.0005"
    assert labels[1].startswith("baseline + actor_net=")


def test_a_run_stopped_before_its_first_row_has_an_empty_curve(tmp_path):
    run = write_run(tmp_path / "a", [1, 2], finished=False)
    (run / "progress.csv").unlink()
    (loaded,) = find_runs([tmp_path])
    assert loaded.curve == [] and not loaded.finished


def test_a_fast_run_is_labelled_fast_whatever_its_learning_starts(tmp_path):
    write_run(tmp_path / "a", [1, 2], preset="fast")
    write_run(tmp_path / "b", [1, 2], preset="fast", actor_l2=1.0)
    labels = [v.label for v in group_variants(find_runs([tmp_path / "a", tmp_path / "b"]))]
    assert labels == ["fast", "fast + actor_l2=1.0"]


def test_seeds_whose_auto_backend_differs_are_still_one_variant(tmp_path):
    write_run(tmp_path / "s0", [1, 2], seed=0, cpu_matmul="onednn")
    write_run(tmp_path / "s1", [1, 3], seed=1, cpu_matmul="blas")
    variants = group_variants(find_runs([tmp_path]))
    assert [(v.label, len(v.runs)) for v in variants] == [("balanced", 2)]
