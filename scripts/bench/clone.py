"""Clone time through Heater against git's own ``git http-backend``.

Both servers serve the same bare repository on loopback; the same git client
clones it (a) once and (b) ``--parallel`` times at once, alternating between
the servers for ``--rounds`` rounds. Printed: the medians and the ratio
Heater / http-backend against the targets. Run it through ``scripts/bench/clone``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import (
    BENCH_DIR,
    Bench,
    Endpoint,
    clean_git_env,
    git,
    git_version,
    place_repository,
    run_main,
)
from measure import Samples, interleaved, stopwatch
from repogen import RepoSpec, RepoStats, cached, stats

from heater.cli.serve import THREADS_PER_WORKER, default_workers
from heater.names import RepoId

TARGET_SINGLE = 1.05
TARGET_PARALLEL = 1.10
CLONE_TIMEOUT = 1800.0
# Time for the servers to reap their git processes after the last clone
# ended, so that those processes' CPU time is counted.
SETTLE = 0.3
REPO = RepoId("bench", "large")


@dataclass(frozen=True)
class Settings:
    rounds: int
    parallel: int
    workers: int
    protocol: str


class Cloner:
    """Runs timed ``git clone``s against one server at a time and checks the result."""

    def __init__(self, bench: Bench, servers: dict[str, Endpoint], data: RepoStats,
                 settings: Settings) -> None:
        self.bench = bench
        self.servers = servers
        self.data = data
        self.settings = settings
        self.scratch = bench.run_dir / "clones"
        self.count = 0

    def clones(self, side: str, how_many: int) -> dict[str, float]:
        """``how_many`` simultaneous clones from ``side``, all checked: their wall
        time, and the CPU time the server spent on them."""
        server = self.servers[side]
        url = server.clone_url(REPO)
        env = clean_git_env()
        dests = []
        procs = []
        cpu_before = server.cpu_seconds()
        with stopwatch() as elapsed:
            for _ in range(how_many):
                self.count += 1
                dest = self.scratch / f"{side}-{self.count}"
                dests.append(dest)
                argv = ["git", "-c", f"protocol.version={self.settings.protocol}",
                        "clone", "--quiet", url, str(dest)]
                procs.append(self.bench.spawn(argv, env=env,
                                              log=self.scratch.parent / "clients.log"))
            for proc in procs:
                proc.wait(timeout=CLONE_TIMEOUT)
        seconds = elapsed()
        time.sleep(SETTLE)
        cpu = server.cpu_seconds() - cpu_before
        for proc in procs:
            self.bench.stop(proc)
        failed = [p.returncode for p in procs if p.returncode != 0]
        if failed:
            raise RuntimeError(f"{len(failed)} clone(s) from {url} failed (exit {failed[0]}); "
                               f"see {self.scratch.parent / 'clients.log'}")
        for dest in dests:
            self._check(side, dest)
            shutil.rmtree(dest)
        return {"wall": seconds, "cpu": cpu}

    def _check(self, side: str, dest: Path) -> None:
        head = git("-C", str(dest), "rev-parse", "HEAD").strip()
        if head != self.data.head:
            raise RuntimeError(f"clone from {side} has HEAD {head}, expected {self.data.head}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/bench/clone", description=__doc__)
    parser.add_argument("--repo", type=Path,
                        help="bare repository to serve (default: generate one of 10,000 "
                             "commits and over 50 MiB, cached in .bench/)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per case (default 5)")
    parser.add_argument("--parallel", type=int, default=8,
                        help="clones at once in the parallel case (default 8)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="heater serve --workers (default: as heater serve)")
    parser.add_argument("--protocol", choices=["0", "1", "2"], default="2",
                        help="git protocol version of the clients (default 2)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run directory (server logs) afterwards")
    return parser


def _source(repo: Path | None) -> RepoStats:
    if repo is None:
        print("preparing the repository (generated once, then cached in .bench/) ...",
              file=sys.stderr)
        return cached(RepoSpec(), BENCH_DIR)
    found = subprocess.run(["git", "-C", str(repo), "rev-parse", "--absolute-git-dir"],
                           check=False, capture_output=True, text=True, env=clean_git_env(),
                           timeout=60)
    if found.returncode != 0:
        raise SystemExit(f"clone: {repo} is not a git repository")
    return stats(Path(found.stdout.strip()))


def _verdict(ratio: float, target: float) -> str:
    return "ok" if ratio <= target else "MISSED"


def report(data: RepoStats, servers: dict[str, Endpoint], settings: Settings,
           cases: Sequence[tuple[str, dict[str, Samples], float]],
           load: Sequence[float]) -> str:
    """The figures, what they compare, and the verdict against the targets."""
    heater, backend = servers["heater"], servers["http-backend"]
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"clone benchmark, {when}",
        f"  data      {data.path.name}: {data.describe()}",
        f"  heater    {heater.describe}, {THREADS_PER_WORKER} threads per worker",
        f"  baseline  {backend.describe}",
        f"  client    {git_version()}: git clone (with checkout), protocol v{settings.protocol}",
        f"  method    {settings.rounds} rounds per case, servers alternated, medians; "
        f"load average at start {load[0]:.2f} on {os.cpu_count()} cores",
        "",
        f"  {'wall time':<20} {'heater':>8} {'backend':>8} {'ratio':>6}   target"
        f"           {'paired':>6}",
    ]
    for name, metrics, target in cases:
        wall = metrics["wall"]
        ratio = wall.ratio("heater", "http-backend")
        lines.append(
            f"  {name:<20} {wall.median('heater'):>7.2f}s {wall.median('http-backend'):>7.2f}s "
            f"{ratio:>6.3f}   <= {target:.2f} {_verdict(ratio, target):<6}   "
            f"{wall.paired_ratio('heater', 'http-backend'):>6.3f}")
    lines += ["  (ratio: of the medians; paired: median of the per-round ratios)"]
    lines += ["", f"  {'server CPU time':<20} {'heater':>8} {'backend':>8} {'ratio':>6}"]
    for name, metrics, _target in cases:
        cpu = metrics["cpu"]
        lines.append(
            f"  {name:<20} {cpu.median('heater'):>7.2f}s {cpu.median('http-backend'):>7.2f}s "
            f"{cpu.ratio('heater', 'http-backend'):>6.3f}")
    lines += ["", "  wall time samples, seconds, in the order taken:"]
    for name, metrics, _target in cases:
        for side in ("heater", "http-backend"):
            lines.append(f"    {name:<20} {side:<13} {metrics['wall'].row(side)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.rounds < 1 or args.parallel < 1 or args.workers < 1:
        print("clone: --rounds, --parallel and --workers must be at least 1", file=sys.stderr)
        return 2
    settings = Settings(args.rounds, args.parallel, args.workers, args.protocol)
    data = _source(args.repo)
    load = os.getloadavg()
    with Bench(keep=args.keep) as bench:
        layout = bench.data_dir()
        place_repository(data.path, layout, REPO)
        servers = {"heater": bench.start_heater(layout, settings.workers),
                   "http-backend": bench.start_http_backend(layout)}
        cloner = Cloner(bench, servers, data, settings)
        sides = list(servers)
        print(f"serving {data.describe()}; warming up ...", file=sys.stderr)
        for side in sides:  # page cache, server start-up: not measured
            cloner.clones(side, 1)
        print(f"one clone, {settings.rounds} rounds ...", file=sys.stderr)
        single = interleaved(sides, settings.rounds, lambda side: cloner.clones(side, 1))
        print(f"{settings.parallel} parallel clones, {settings.rounds} rounds ...",
              file=sys.stderr)
        parallel = interleaved(sides, settings.rounds,
                               lambda side: cloner.clones(side, settings.parallel))
        cases = [("one clone", single, TARGET_SINGLE),
                 (f"{settings.parallel} parallel clones", parallel, TARGET_PARALLEL)]
        print(report(data, servers, settings, cases, load))
    return 0


if __name__ == "__main__":
    run_main("clone", main)
