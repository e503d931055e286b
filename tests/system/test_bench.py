"""The benchmark harness (scripts/bench): repository generation, timing order,
the servers it starts, what it measures of them, and that a run stops
everything it started, also when it fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import CORPUS, REPO_ROOT
from tests.services.debian import ensure_packages

sys.path.insert(0, str(REPO_ROOT / "scripts" / "bench"))

import harness
import measure
import repogen
import templategen

from heater.names import RepoId
from heater.templates.validation import MappingSource, validate
from heater.templates.yamlload import load_yaml


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


def test_large_template_is_valid_below_its_size_and_reproducible() -> None:
    size = 40 * 1024
    made = templategen.large_template(CORPUS, size)
    assert size - 8 * 1024 < len(made) <= size
    assert validate(MappingSource({"template.yaml": made})) == []
    assert templategen.large_template(CORPUS, size) == made
    resources = load_yaml(made, "t").data["resources"]
    after = load_yaml(templategen.changed_copy(made, "2"), "t").data["resources"]
    assert set(resources) - set(after) == {list(resources)[-1]}
    assert set(after) - set(resources) == {"volume_2"}
    assert sum(r.get("metadata", {}).get("release") == "2" for r in after.values()) == 3


def test_interleaved_alternates_and_flips_the_order() -> None:
    calls: list[str] = []

    def take(side: str) -> dict[str, float]:
        calls.append(side)
        return {"wall": float(len(calls))}

    metrics = measure.interleaved(["a", "b"], 3, take)
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
        assert measure.group_cpu_seconds(proc.pid) >= 0.05


def test_samples_give_nearest_rank_percentiles() -> None:
    samples = measure.Samples()
    for value in [5.0, 1.0, 4.0, 2.0, 3.0]:
        samples.add("a", value)
    assert samples.percentile("a", 90) == 5.0  # ceil(4.5) = 5th of 5
    assert samples.percentile("a", 40) == 2.0
    assert samples.percentile("a", 0) == 1.0
    assert samples.minimum("a") == 1.0 and samples.median("a") == 3.0


def test_peak_rss_sees_the_memory_of_the_whole_group(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    hold = (f"import pathlib, time; b = bytearray(64 << 20); "
            f"pathlib.Path('{ready}').touch(); time.sleep(300)")
    with harness.Bench(root=tmp_path) as bench:
        # The memory is in a child of the group's leader, as in a server's worker.
        proc = bench.spawn(["sh", "-c", f"{sys.executable} -c \"{hold}\"; sleep 300"])
        _wait_for(ready)
        with measure.PeakRss(proc.pid) as peak:
            pass
    assert peak.largest >= 64 << 20
    assert peak.total > peak.largest  # the shell counts too


def test_static_server_serves_the_directory_and_stops(tmp_path: Path) -> None:
    _need_lighttpd()
    files = tmp_path / "files"
    files.mkdir()
    (files / "image.raw").write_bytes(b"x" * 4096)
    with harness.Bench(root=tmp_path / "runs") as bench:
        static = bench.start_static(files)
        assert requests.get(f"{static.url}/image.raw", timeout=10).content == b"x" * 4096
    assert _running_in_group(static.pid) == []


def test_http_backend_takes_pushes_only_from_its_user(tmp_path: Path) -> None:
    _need_lighttpd()
    repo = RepoId("bench", "push")
    env = harness.clean_git_env({"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
                                 "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com",
                                 "GIT_TERMINAL_PROMPT": "0"})
    work = tmp_path / "work"
    harness.git("init", "-q", "-b", "main", str(work))
    harness.git("commit", "-q", "--allow-empty", "-m", "one", cwd=work, env=env)

    def push(url: str) -> bool:
        return subprocess.run(["git", "push", "-q", url, "main"], cwd=work, env=env,
                              capture_output=True, check=False).returncode == 0

    with harness.Bench(root=tmp_path / "runs") as bench:
        layout = bench.data_dir()
        harness.git("init", "-q", "--bare", str(layout.repository(repo)))
        backend = bench.start_http_backend(layout, push_password="s3cret")
        pushed = [push(backend.clone_url(repo)), push(backend.clone_url(repo, password="wrong")),
                  push(backend.clone_url(repo, password="s3cret"))]
        cloned = subprocess.run(["git", "clone", "-q", backend.clone_url(repo),
                                 str(tmp_path / "clone")], env=env, capture_output=True,
                                check=False).returncode == 0
    assert pushed == [False, False, True]
    assert cloned and (tmp_path / "clone" / ".git").is_dir()


def test_heater_serves_with_the_token_the_harness_made(tmp_path: Path) -> None:
    with harness.Bench(root=tmp_path) as bench:
        layout = bench.data_dir()
        token = bench.create_token(layout, "writer", "bench")
        heater = bench.start_heater(layout, workers=1)
        body = {"namespace": "bench", "name": "t", "visibility": "public"}
        statuses = [requests.post(f"{heater.url}/api/v1/templates", json=body, headers=auth,
                                  timeout=30).status_code
                    for auth in ({}, {"Authorization": f"Bearer {token}"})]
    assert statuses == [401, 201]
    assert _running_in_group(heater.pid) == []


def test_a_missing_program_is_looked_for_in_sbin_too() -> None:
    assert harness.ensure_program("sh") == shutil.which("sh")
    assert harness.find_program("no-such-program-here") is None


def _need_lighttpd() -> None:
    """Install lighttpd when it is missing, as the benchmarks do; fail (never
    skip) when it cannot be."""
    ensure_packages("lighttpd", program="lighttpd")


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
