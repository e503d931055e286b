"""A bounded soak: mixed load against Heater with two workers, then a verdict.

Heater is started on loopback (``heater serve --workers 2``) with a template
repository (one released version) and an image build with its file. Then
``--clients`` threads each repeat a weighted mix of what users do: clone a
template, push a new commit (each client to a repository of its own, so that
pushes never race for a branch), list the catalog, read a raw file at a
version, download the image's file. The run ends after ``--requests``
operations or ``--seconds`` seconds, whichever comes first. Meanwhile the
resident memory of the server's process tree (master, workers, their git
processes) is sampled.

Printed: per kind of operation the count, errors, p50 and p99; the memory at
first, last and at its peak; and the verdict on growth, which compares the
two halves of the steady state (the first fifth of the samples is warm-up).
The exit status is 1 when any operation failed or the memory grew.
Run it through ``scripts/soak``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from heater.names import RepoId

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

from harness import Bench, Endpoint, clean_git_env, git, run_main
from measure import Samples, group_rss, stopwatch

MiB = 1024 * 1024
NAMESPACE = "soak"
TEMPLATE = f"{NAMESPACE}/web"
IMAGE = f"{NAMESPACE}/disk"
VERSION = "v1.0.0"
# How often each kind of operation is picked: reads dominate, as on a registry.
MIX: dict[str, int] = {"listing": 4, "raw": 4, "image": 2, "clone": 1, "push": 1}
WARM_UP = 0.2  # share of the RSS samples before the steady state begins
# Growth allowed between the steady-state halves: allocator noise and caches
# that fill once are not a leak; both bounds must be exceeded.
GROWTH_RATIO = 1.10
GROWTH_BYTES = 16 * MiB
REQUEST_TIMEOUT = 60.0
IDENTITY = {"GIT_AUTHOR_NAME": "Soak", "GIT_AUTHOR_EMAIL": "soak@example.com",
            "GIT_COMMITTER_NAME": "Soak", "GIT_COMMITTER_EMAIL": "soak@example.com"}
# The smallest template a push admits; the description changes per commit.
TEMPLATE_TEXT = """heat_template_version: 2018-08-31
description: {description}
resources:
  nothing: {{type: OS::Heat::None}}
"""
MANIFEST = {"disk_format": "raw", "container_format": "bare",
            "os": {"distro": "ubuntu", "version": "22.04"}, "packages": []}


# -- verdicts (pure: tested without a server) ---------------------------------

@dataclass(frozen=True)
class RssVerdict:
    """The memory of a run: bytes at first, last and peak, and the medians of
    the two halves of the steady state that decide whether it grew."""

    first: int
    last: int
    peak: int
    early: int
    late: int

    @property
    def grew(self) -> bool:
        return self.late > self.early * GROWTH_RATIO and self.late - self.early > GROWTH_BYTES


def rss_verdict(samples: Sequence[int]) -> RssVerdict:
    """Judge ``samples`` (bytes, in the order taken): the warm-up is dropped,
    the rest split in two halves, and the medians of the halves compared, so
    that one spike neither hides nor fakes growth. Needs at least one sample."""
    if not samples:
        raise ValueError("no memory samples")
    steady = list(samples[int(len(samples) * WARM_UP):]) or list(samples)
    half = max(1, len(steady) // 2)
    early = int(statistics.median(steady[:half]))
    late = int(statistics.median(steady[half:] or steady[:half]))
    return RssVerdict(samples[0], samples[-1], max(samples), early, late)


def pick(rng: random.Random) -> str:
    """One kind of operation, drawn with the weights of :data:`MIX`."""
    return rng.choices(list(MIX), weights=list(MIX.values()))[0]


@dataclass
class Tally:
    """What the clients did: durations per kind, and the errors seen."""

    durations: Samples = field(default_factory=Samples)
    errors: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, error: str | None) -> None:
        with self._lock:
            self.durations.add(kind, seconds)
            if error is not None:
                self.errors[kind] = self.errors.get(kind, 0) + 1
                if len(self.examples) < 10:
                    self.examples.append(f"{kind}: {error}")

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.durations.seconds.values())

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


# -- the load -----------------------------------------------------------------

class Budget:
    """Shared by the clients: at most ``count`` operations, until ``deadline``."""

    def __init__(self, count: int, seconds: float) -> None:
        self.left = count
        self.deadline = time.monotonic() + seconds
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True


class Client:
    """One user's session: its own scratch directory and push repository."""

    def __init__(self, number: int, heater: Endpoint, token: str, build: str,
                 scratch: Path, seed: int) -> None:
        self.number = number
        self.heater = heater
        self.token = token
        self.build = build
        self.scratch = scratch / f"client-{number}"
        self.rng = random.Random(seed + number)  # noqa: S311  (a mix, not a secret)
        self.env = clean_git_env(IDENTITY)
        self.pushes = 0
        self.work = self.scratch / "push"
        self.ops: dict[str, Callable[[], None]] = {
            "listing": self.listing, "raw": self.raw, "image": self.image,
            "clone": self.clone, "push": self.push}

    def prepare(self) -> None:
        """Create this client's push repository with its first commit."""
        self.scratch.mkdir(parents=True)
        git("init", "-q", "-b", "main", str(self.work), env=self.env)
        self.push()

    def run(self, budget: Budget, tally: Tally) -> None:
        while budget.take():
            kind = pick(self.rng)
            error: str | None = None
            with stopwatch() as elapsed:
                try:
                    self.ops[kind]()
                except Exception as exc:  # every failure is a finding to report
                    error = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
            tally.record(kind, elapsed(), error)

    def _get(self, path: str) -> bytes:
        request = urllib.request.Request(f"{self.heater.url}{path}",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            body: bytes = response.read()
            return body

    def listing(self) -> None:
        page = json.loads(self._get(f"/api/v1/templates?namespace={NAMESPACE}&limit=20"))
        if not page["templates"]:
            raise AssertionError("the listing is empty")

    def raw(self) -> None:
        if b"heat_template_version" not in self._get(f"/{TEMPLATE}/raw/{VERSION}/template.yaml"):
            raise AssertionError("the raw file is not the template")

    def image(self) -> None:
        size = json.loads(self._get(f"/api/v1/builds/{self.build}"))["size"]
        if len(self._get(f"/api/v1/builds/{self.build}/file")) != size:
            raise AssertionError("the image file is not of the build's size")

    def clone(self) -> None:
        dest = self.scratch / "clone"
        try:
            git("clone", "-q", self.heater.clone_url(_repo(TEMPLATE), self.token), str(dest),
                env=self.env)
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    def push(self) -> None:
        self.pushes += 1
        text = TEMPLATE_TEXT.format(description=f"client {self.number} push {self.pushes}")
        (self.work / "template.yaml").write_text(text)
        git("add", "-A", cwd=self.work, env=self.env)
        git("commit", "-q", "-m", f"push {self.pushes}", cwd=self.work, env=self.env)
        url = self.heater.clone_url(_repo(f"{NAMESPACE}/push-{self.number}"), self.token)
        git("push", "-q", url, "main", cwd=self.work, env=self.env)


def _repo(full: str) -> RepoId:
    namespace, name = full.split("/")
    return RepoId(namespace, name)


class RssSampler:
    """Samples the memory of a process group every ``interval`` seconds in the
    background: ``samples`` holds (seconds since start, bytes)."""

    def __init__(self, pgid: int, interval: float) -> None:
        self.pgid = pgid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _sample(self) -> None:
        self.samples.append((time.monotonic() - self._start, sum(group_rss(self.pgid))))

    def _watch(self) -> None:
        self._sample()
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# -- setup and report ---------------------------------------------------------

def seed_data(heater: Endpoint, token: str, scratch: Path, image_mib: int) -> str:
    """Push the template and release :data:`VERSION`; queue an image build and
    upload ``image_mib`` MiB for it. The build's id."""
    env = clean_git_env(IDENTITY)
    work = scratch / "seed"
    git("init", "-q", "-b", "main", str(work), env=env)
    (work / "template.yaml").write_text(TEMPLATE_TEXT.format(description="soak template"))
    git("add", "-A", cwd=work, env=env)
    git("commit", "-q", "-m", "initial", cwd=work, env=env)
    git("push", "-q", heater.clone_url(_repo(TEMPLATE), token), "main", cwd=work, env=env)
    _send(heater, token, "POST", f"/api/v1/templates/{TEMPLATE}/versions",
          json.dumps({"version": VERSION, "ref": "main", "message": "soak"}).encode(),
          "application/json")
    build = json.loads(_send(heater, token, "POST", f"/api/v1/images/{IMAGE}/builds",
                             json.dumps(MANIFEST).encode(), "application/json"))["build_id"]
    _send(heater, token, "PUT", f"/api/v1/builds/{build}/file",
          os.urandom(image_mib * MiB), "application/octet-stream")
    return str(build)


def _send(heater: Endpoint, token: str, method: str, path: str, body: bytes,
          content_type: str) -> bytes:
    request = urllib.request.Request(
        f"{heater.url}{path}", data=body, method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
        answer: bytes = response.read()
        return answer


def report(args: argparse.Namespace, heater: Endpoint, tally: Tally, wall: float,
           rss: Sequence[tuple[float, int]], load: float) -> tuple[str, bool]:
    """The printed report, and whether the run passed."""
    verdict = rss_verdict([size for _, size in rss])
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"soak, {when}",
        f"  heater    {heater.describe}, 127.0.0.1",
        f"  load      {args.clients} clients, mix {MIX}, image {args.image_mib} MiB",
        f"  bounds    {args.requests} operations or {args.seconds:.0f} s; ran "
        f"{tally.total} in {wall:.1f} s; load average at start {load:.2f} on "
        f"{os.cpu_count()} cores (shared machine: latencies vary)",
        "",
        f"{'kind':10} {'count':>7} {'errors':>7} {'p50 ms':>9} {'p99 ms':>9}",
    ]
    samples = tally.durations
    for kind in MIX:
        if kind not in samples.seconds:
            lines.append(f"{kind:10} {0:7d} {0:7d} {'-':>9} {'-':>9}")
            continue
        lines.append(f"{kind:10} {len(samples.seconds[kind]):7d} "
                     f"{tally.errors.get(kind, 0):7d} "
                     f"{samples.percentile(kind, 50) * 1000:9.1f} "
                     f"{samples.percentile(kind, 99) * 1000:9.1f}")
    lines += ["", f"errors: {tally.failed}" + (" (must be 0) FAILED" if tally.failed else " ok")]
    lines += [f"  {example}" for example in tally.examples]
    lines += [
        f"server RSS (process tree, {len(rss)} samples every {args.rss_interval:g} s): "
        f"first {verdict.first / MiB:.0f} MiB, last {verdict.last / MiB:.0f} MiB, "
        f"max {verdict.peak / MiB:.0f} MiB",
        f"  steady state: median {verdict.early / MiB:.1f} MiB in the first half, "
        f"{verdict.late / MiB:.1f} MiB in the second: "
        + ("GREW" if verdict.grew else "no growth"),
        "  over time (s: MiB): " + ", ".join(
            f"{at:.0f}: {size / MiB:.0f}" for at, size in _spread(rss, 12)),
    ]
    return "\n".join(lines), tally.failed == 0 and not verdict.grew


def _spread(items: Sequence[tuple[float, int]], count: int) -> list[tuple[float, int]]:
    """At most ``count`` items, evenly spaced, first and last included."""
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0,
                        help="stop after this many seconds (default 180)")
    parser.add_argument("--requests", type=int, default=100_000,
                        help="stop after this many operations (default 100000)")
    parser.add_argument("--clients", type=int, default=4,
                        help="client threads (default 4)")
    parser.add_argument("--image-mib", type=int, default=4,
                        help="size of the image downloaded, MiB (default 4)")
    parser.add_argument("--rss-interval", type=float, default=1.0,
                        help="seconds between two memory samples (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="of the operation mix")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run directory (server log) afterwards")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.seconds <= 0 or min(args.requests, args.clients, args.image_mib) < 1 \
            or args.rss_interval <= 0:
        print("soak: every bound must be positive", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    with Bench(keep=args.keep) as bench:
        layout = bench.data_dir()
        token = bench.create_token(layout, "writer", NAMESPACE)
        heater = bench.start_heater(layout, workers=2)
        build = seed_data(heater, token, bench.run_dir, args.image_mib)
        clients = [Client(n, heater, token, build, bench.run_dir, args.seed)
                   for n in range(args.clients)]
        for client in clients:
            client.prepare()
        print(f"soak: {args.clients} clients, up to {args.requests} operations "
              f"or {args.seconds:.0f} s ...", file=sys.stderr)
        tally = Tally()
        budget = Budget(args.requests, args.seconds)
        threads = [threading.Thread(target=c.run, args=(budget, tally)) for c in clients]
        with RssSampler(heater.pid, args.rss_interval) as rss, stopwatch() as wall:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        text, passed = report(args, heater, tally, wall(), rss.samples, load)
        print(text)
    return 0 if passed else 1


if __name__ == "__main__":
    run_main("soak", main)
