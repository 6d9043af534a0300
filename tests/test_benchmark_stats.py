"""The statistics and grading behind comparisons and grades (pure functions)."""

from __future__ import annotations

import pytest

from django_dbopt.benchmark.grades import grade
from django_dbopt.benchmark.history import compare
from django_dbopt.benchmark.stats import bootstrap_ratio, mann_whitney_greater


def test_mann_whitney_exact_p_values() -> None:
    # all of x above all of y: 1 arrangement in C(6, 3) = 20
    assert mann_whitney_greater([6, 7, 8], [1, 2, 3]) == (9.0, pytest.approx(1 / 20))
    # and the other way round: every arrangement has U >= 0
    assert mann_whitney_greater([1, 2, 3], [6, 7, 8]) == (0.0, 1.0)
    # 5 against 5 trials: the smallest one-sided p is 1 / C(10, 5)
    assert mann_whitney_greater([10] * 5, [1, 2, 3, 4, 5])[1] == pytest.approx(1 / 252)


def test_mann_whitney_normal_approximation_for_large_samples() -> None:
    x = [float(v) for v in range(100, 130)]
    y = [float(v) for v in range(0, 30)]
    assert mann_whitney_greater(x, y)[1] < 1e-6
    assert mann_whitney_greater(y, x)[1] > 0.99


def test_bootstrap_interval_contains_the_ratio() -> None:
    ratio = bootstrap_ratio([2.0, 2.2, 1.8, 2.1], [1.0, 1.1, 0.9, 1.0])
    assert ratio is not None
    assert ratio.low <= ratio.value <= ratio.high
    assert ratio.value == pytest.approx(2.02, abs=0.02)
    assert bootstrap_ratio([1.0], [0.0]) is None


def test_compare_needs_both_significance_and_effect() -> None:
    base = [10.0, 10.1, 9.9, 10.05, 9.95]
    slower = [13.0, 13.1, 12.9, 13.05, 12.95]
    tiny = [10.3, 10.35, 10.32, 10.31, 10.33]  # significant but 3 %: under MIN_EFFECT
    assert compare(slower, base, min_effect=0.1, alpha=0.05)["status"] == "regression"
    assert compare(tiny, base, min_effect=0.1, alpha=0.05)["status"] == "unchanged"
    assert compare(base, slower, min_effect=0.1, alpha=0.05)["status"] == "improvement"
    assert compare(slower, [], min_effect=0.1, alpha=0.05)["status"] == "no baseline"


def test_grades_explain_each_target() -> None:
    result = grade(
        {"avg_query_ms": 10.0, "p99_ms": 250.0, "error_rate": 0.0, "cache_hit_ratio": 0.75},
        {"p99_ms": 200.0},
    )
    by_key = {e["key"]: e for e in result["targets"]}
    assert by_key["avg_query_ms"]["grade"] == "A"
    assert by_key["p99_ms"]["grade"] == "C"
    assert "misses the target <= 200 ms" in by_key["p99_ms"]["explanation"]
    assert by_key["cache_hit_ratio"]["grade"] == "C"
    assert by_key["replica_lag_s"]["grade"] is None
    assert "no data" in by_key["replica_lag_s"]["explanation"]
    assert result["overall"] == "C"


def test_docs_list_every_top_level_key_of_the_schema() -> None:
    from pathlib import Path

    from django_dbopt.benchmark.schema import SCHEMA

    text = (Path(__file__).resolve().parent.parent / "docs" / "benchmark.md").read_text()
    missing = [key for key in SCHEMA["properties"] if f"`{key}`" not in text]
    assert missing == []


def test_a_failing_worker_setup_is_counted_not_lost() -> None:
    from django_dbopt.benchmark.load import LoadPattern, Worker, run_load

    def setup(worker: Worker) -> None:
        raise RuntimeError(f"worker {worker.index} cannot start")

    result = run_load(
        lambda worker: "never",
        LoadPattern(concurrency=2, duration_s=0.05, warmup_s=0, trials=1),
        setup=setup,
    )
    assert result.ops == 0
    assert result.errors == 2
    assert result.error_samples[0].startswith("RuntimeError: worker")


def test_open_loop_schedule_without_a_database() -> None:
    from django_dbopt.benchmark.load import LoadPattern, run_load

    result = run_load(
        lambda worker: "tick",
        LoadPattern("open", concurrency=1, duration_s=0.2, warmup_s=0.0, rate=50, trials=2),
    )
    assert result.ops == 10  # slots 0..9 of 20 ms each
    assert [n for n, _ in result.windows] == [5, 5]
    assert result.unfinished == 0
