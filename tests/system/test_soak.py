"""The soak (scripts/soak): its memory verdict, its bounds, and one short run
of the whole mixed load against two workers."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))

import soak

MiB = soak.MiB


def test_steady_memory_is_no_growth_even_with_a_spike() -> None:
    samples = [100 * MiB] * 10 + [400 * MiB] + [101 * MiB] * 9
    verdict = soak.rss_verdict(samples)
    assert not verdict.grew
    assert (verdict.first, verdict.last, verdict.peak) == (100 * MiB, 101 * MiB, 400 * MiB)


def test_memory_that_climbs_through_the_steady_state_grew() -> None:
    samples = [100 * MiB + i * 4 * MiB for i in range(20)]
    verdict = soak.rss_verdict(samples)
    assert verdict.grew and verdict.late > verdict.early


def test_the_warm_up_does_not_count_as_growth() -> None:
    samples = [50 * MiB] * 4 + [150 * MiB] * 16  # caches fill in the first fifth
    assert not soak.rss_verdict(samples).grew


def test_small_growth_is_allocator_noise() -> None:
    # 12 MiB more is over 10 % of 100 MiB, but under the absolute bound.
    assert not soak.rss_verdict([100 * MiB] * 10 + [112 * MiB] * 10).grew


def test_one_sample_is_judged_and_none_is_an_error() -> None:
    assert not soak.rss_verdict([80 * MiB]).grew
    with pytest.raises(ValueError):
        soak.rss_verdict([])


def test_the_budget_ends_at_its_count_or_its_time() -> None:
    counted = soak.Budget(count=3, seconds=60)
    assert [counted.take() for _ in range(5)] == [True, True, True, False, False]
    timed = soak.Budget(count=1000, seconds=0.05)
    time.sleep(0.1)
    assert not timed.take()


def test_the_mix_draws_every_kind_by_its_weight() -> None:
    rng = random.Random(1)  # noqa: S311  (a reproducible draw)
    drawn = [soak.pick(rng) for _ in range(6000)]
    assert set(drawn) == set(soak.MIX)
    share = drawn.count("listing") / drawn.count("push")
    assert 3 < share < 5  # weights 4 : 1


def test_a_short_soak_passes_and_reports_every_kind() -> None:
    # Cheap (a few seconds) and meaningful: pushes, clones and reads at once
    # against two workers must all succeed.
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "soak.py"),
                           "--seconds", "3", "--clients", "2", "--image-mib", "1",
                           "--rss-interval", "0.5"],
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "errors: 0 ok" in proc.stdout
    for kind in soak.MIX:
        assert f"\n{kind} " in proc.stdout
