"""The benchmark harness (scripts/bench): repository generation, timing order,
and that a run stops everything it started, also when it fails."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts" / "bench"))

import harness
import repogen


def test_generated_repository_has_the_history_and_size_asked_for(tmp_path: Path) -> None:
    spec = repogen.RepoSpec(commits=120, min_bytes=2 * repogen.MiB, binary_size=64 * 1024)
    made = repogen.generate(spec, tmp_path / "a.git")
    assert made.commits == 120
    assert made.pack_bytes >= spec.min_bytes
    again = repogen.generate(spec, tmp_path / "b.git")
    assert again.head == made.head  # reproducible, so a cached copy can be trusted
    fsck = subprocess.run(["git", "-C", str(made.path), "fsck", "--no-progress"],
                          capture_output=True, env=harness.clean_git_env(), check=False)
    assert fsck.returncode == 0, fsck.stderr


def test_cached_repository_is_reused(tmp_path: Path) -> None:
    spec = repogen.RepoSpec(commits=30, min_bytes=256 * 1024, binary_size=16 * 1024)
    first = repogen.cached(spec, tmp_path)
    marker = first.path / "reused"
    marker.touch()
    second = repogen.cached(spec, tmp_path)
    assert second == first and marker.exists()


def test_interleaved_alternates_and_flips_the_order() -> None:
    calls: list[str] = []

    def measure(side: str) -> dict[str, float]:
        calls.append(side)
        return {"wall": float(len(calls))}

    metrics = harness.interleaved(["a", "b"], 3, measure)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert metrics["wall"].seconds == {"a": [1.0, 4.0, 5.0], "b": [2.0, 3.0, 6.0]}
    assert metrics["wall"].ratio("a", "b") == 4.0 / 3.0
    assert metrics["wall"].paired_ratio("a", "b") == 5.0 / 6.0  # median of 1/2, 4/3, 5/6


def test_a_failed_run_stops_its_processes_and_their_children(tmp_path: Path) -> None:
    started = tmp_path / "started"
    with pytest.raises(RuntimeError), harness.Bench(root=tmp_path) as bench:
        # A parent with a child of its own, as a server with its git processes.
        proc = bench.spawn(["sh", "-c", f"sleep 300 & touch {started}; wait"])
        _wait_for(started)
        raise RuntimeError("benchmark failed")
    assert proc.returncode is not None
    assert _running_in_group(proc.pid) == []
    assert bench.run_dir.is_dir()  # its logs explain the failure


def test_a_finished_run_leaves_nothing_behind(tmp_path: Path) -> None:
    with harness.Bench(root=tmp_path) as bench:
        proc = bench.spawn(["sleep", "300"], log=bench.run_dir / "sleep.log")
    assert proc.returncode is not None
    assert list(tmp_path.iterdir()) == []


def test_group_cpu_counts_children_that_ended(tmp_path: Path) -> None:
    done = tmp_path / "done"
    with harness.Bench(root=tmp_path) as bench:
        proc = bench.spawn(["sh", "-c", f"python3 -c 'sum(range(5_000_000))'; touch {done}; "
                                        "sleep 300"])
        _wait_for(done)
        assert harness.group_cpu_seconds(proc.pid) >= 0.05


def _running_in_group(pgid: int) -> list[str]:
    """Processes of group ``pgid`` that still run (killed ones may linger as
    zombies until init reaps them; they no longer run)."""
    listing = subprocess.run(["ps", "-eo", "pgid=,stat=,args="], capture_output=True,
                             text=True, check=True).stdout
    return [line for line in listing.splitlines()
            if line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")]


def _wait_for(path: Path) -> None:
    for _ in range(300):
        if path.exists():
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} did not appear")
