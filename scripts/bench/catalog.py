"""Catalog benchmark: listing, search and raw files at 100 and 10,000 templates.

Run it through ``scripts/bench/catalog`` (which installs wrk). It

1. generates template repositories from the shared corpus (each a corpus
   template with a generated heater.yaml, one or two released versions,
   one in ten private), written with pygit2 straight into a data directory;
2. times ``heater reindex`` of the large data directory from scratch
   (wall-clock and CPU seconds; ``--reindex-only`` stops there, after a
   second run over the full index);
3. serves each data directory with ``heater serve``, and beside them a bare
   Flask app under the same gunicorn settings (same server class, options,
   workers and threads) answering with the same JSON body as the listing
   page: the framework floor;
4. measures with wrk, in rounds, each case (the listing page plain, with
   keyword and full-text filters, and the raw endpoint) on each server in
   turn and then the floor: latency (p50, p99) with one connection and
   requests per second with many; the medians of the rounds are reported;
5. prints a Markdown report (and writes it with ``--out``).

Only 127.0.0.1 is ever loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from heater.names import RepoId  # noqa: E402
from heater.paths import Layout  # noqa: E402
from heater.repos.store import Kind, RepositoryStore, Visibility  # noqa: E402

# Beside the checkout, as for the tests; $HEATER_CORPUS points elsewhere.
CORPUS = Path(os.environ.get("HEATER_CORPUS", str(ROOT.parent / "shared" / "corpus")))
VOCABULARY = [
    "web", "database", "cache", "queue", "monitoring", "logging", "lb", "autoscaling",
    "kubernetes", "storage", "backup", "dns", "vpn", "firewall", "bastion", "ci",
    "analytics", "search", "mail", "proxy", "ha", "dev", "prod", "gpu", "batch",
    "streaming", "iot", "ml", "wordpress", "lamp", "mysql", "postgres", "redis",
    "rabbitmq", "nginx", "apache", "java", "python", "golang", "windows",
]
ADJECTIVES = ["simple", "redundant", "scalable", "minimal", "secure", "tiny", "hardened",
              "managed", "clustered", "single-node"]
BASE_TIME = 1_700_000_000
NAMESPACES = 50
_LISTENING = re.compile(rb"Listening at: http://[\d.]+:(\d+)")


def corpus_templates(corpus: Path) -> list[tuple[str, bytes]]:
    found = []
    for path in sorted((corpus / "heat-templates" / "hot").rglob("*.yaml")):
        data = path.read_bytes()
        if b"heat_template_version" in data:
            found.append((path.stem, data))
    return found


def repo_id(index: int) -> RepoId:
    return RepoId(f"ns{index % NAMESPACES:02d}", f"tpl-{index:05d}")


GENERATORS = 6  # processes: creating repositories waits on the disk more than on the CPU


def generate(data_dir: Path, count: int, corpus: Path, seed: int = 1) -> None:
    """``count`` template repositories, deterministic for a given seed (each
    from its own random stream, so that processes can share the work)."""
    templates = corpus_templates(corpus)
    RepositoryStore(Layout(data_dir)).layout.ensure()
    chunks = [range(start, min(start + 500, count)) for start in range(0, count, 500)]
    with multiprocessing.get_context("fork").Pool(GENERATORS) as pool:
        pool.starmap(_generate_some, [(data_dir, chunk, templates, seed) for chunk in chunks])


def _generate_some(data_dir: Path, indices: range, templates: list[tuple[str, bytes]],
                   seed: int) -> None:
    store = RepositoryStore(Layout(data_dir))
    for index in indices:
        rng = random.Random(seed * 1_000_003 + index)  # noqa: S311 (test data, not secrets)
        repo = repo_id(index)
        if store.exists(repo):  # an interrupted run's
            continue
        visibility = Visibility.PRIVATE if index % 10 == 0 else Visibility.PUBLIC
        store.create(repo, Kind.TEMPLATE, visibility)
        stem, template = templates[index % len(templates)]
        manifest = {
            "description": f"A {rng.choice(ADJECTIVES)} {stem.replace('_', ' ')} "
                           f"deployment, variant {index}",
            "keywords": rng.sample(VOCABULARY, 3),
            "metadata": {"team": f"team-{rng.randrange(20)}", "tier": rng.choice(["1", "2"])},
            "maintainers": [f"user{rng.randrange(100)}"],
        }
        git = pygit2.Repository(str(store.path(repo)))
        builder = git.TreeBuilder()
        builder.insert("template.yaml", git.create_blob(template), pygit2.GIT_FILEMODE_BLOB)
        builder.insert("heater.yaml", git.create_blob(yaml.safe_dump(manifest).encode()),
                       pygit2.GIT_FILEMODE_BLOB)
        tree = builder.write()
        when = BASE_TIME + index * 60
        parents: list[pygit2.Oid] = []
        for release in range(1 + index % 2):
            author = pygit2.Signature("Bench", "bench@example.com", when + release, 0)
            commit = git.create_commit("refs/heads/main", author, author,
                                       f"release {release}\n", tree, parents)
            parents = [commit]
            git.create_tag(f"v1.{release}.0", commit, pygit2.enums.ObjectType.COMMIT,
                           author, f"Release 1.{release}.0\n")
        git.free()


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


def start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Server:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
    # Generous: before it listens, `heater serve` looks over every
    # repository (over two minutes for 100,000 on a busy machine).
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        match = _LISTENING.search(log.read_bytes())
        if match:
            url = f"http://127.0.0.1:{int(match.group(1))}"
            while time.monotonic() < deadline:
                try:
                    requests.get(url + "/healthz", timeout=2)
                    return Server(url, process)
                except requests.RequestException:  # not listening yet, or slow under load
                    time.sleep(0.1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')}")


@contextmanager
def serving(argv: list[str], log: Path, env: dict[str, str] | None = None
            ) -> Iterator[Server]:
    server = start(argv, log, env)
    try:
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@dataclass
class Result:
    p50_ms: float
    p99_ms: float
    rps: float
    entries: int | None  # entries on a listing page (None: not a listing)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, connections: int, threads: int, seconds: int) -> tuple[dict[str, float], float]:
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors:\n{out}")
    percentiles = {m.group(1): _ms(m.group(2))
                   for m in re.finditer(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return percentiles, rps


def measure(url: str, args: argparse.Namespace) -> Result:
    check = requests.get(url, timeout=10)
    check.raise_for_status()
    listed = check.json().get("templates") if "json" in check.headers["Content-Type"] else None
    percentiles, _ = wrk(url, 1, 1, args.seconds)
    _, rps = wrk(url, args.connections, 2, args.seconds)
    return Result(percentiles["50"], percentiles["99"], rps,
                  len(listed) if isinstance(listed, list) else None)


def heater_serve(data_dir: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "heater", "serve", "--bind", "127.0.0.1:0",
            "--workers", str(workers), "--data-dir", str(data_dir)]


def floor_serve(body_file: Path, workers: int) -> list[str]:
    return [sys.executable, str(Path(__file__)), "floor", "--body", str(body_file),
            "--workers", str(workers)]


def run_floor(body_file: Path, workers: int) -> None:
    """A bare Flask JSON endpoint under Heater's own gunicorn settings."""
    from flask import Flask, jsonify

    from heater.cli.serve import HeaterServer
    from heater.config import Config

    body = json.loads(body_file.read_text())
    app = Flask("floor")

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    @app.get("/floor")
    def floor() -> Any:
        return jsonify(body)

    class Floor(HeaterServer):
        def load(self) -> Any:
            return app

    Floor(Config(Path(tempfile.gettempdir())), "127.0.0.1:0", workers).run()


RATIO_TARGET = 1.5
P50_TARGET_MS = 5.0
FLOOR_TARGET = 0.5
REINDEX_TARGET_S = 60


def verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


# Entry RARE_ENTRY's description is "... variant 7777": its number is a word
# of one template at either size.
RARE_ENTRY = 7777
LATER_PAGE = 20  # the page "later page" reaches by following markers

LATER_CASE = f"list, page {LATER_PAGE} (marker)"
LISTING_CASES = {
    "list": "/api/v1/templates",
    "list, keyword": "/api/v1/templates?keyword=web",
    "list, keyword, 5 per page": "/api/v1/templates?keyword=web&limit=5",
    "list, full text": "/api/v1/templates?q=server",
    "list, full text, rare word": f"/api/v1/templates?q={RARE_ENTRY}",
    "list, 2 keywords + text": "/api/v1/templates?keyword=web&keyword=prod&q=server",
    "list, sort by updated": "/api/v1/templates?sort=updated",
    LATER_CASE: "/api/v1/templates",  # see later_page()
}


# The index queries of the listing cases, as an anonymous caller's (the
# later page's marker is found at run time).
LISTING_QUERIES: dict[str, dict[str, Any]] = {
    "list": {},
    "list, keyword": {"keywords": ("web",)},
    "list, keyword, 5 per page": {"keywords": ("web",), "limit": 5},
    "list, full text": {"text": "server"},
    "list, full text, rare word": {"text": str(RARE_ENTRY)},
    "list, 2 keywords + text": {"keywords": ("web", "prod"), "text": "server"},
    "list, sort by updated": {"sort": ("updated", True)},
    LATER_CASE: {},
}


def index_timings(index: Any, repeat: int = 200) -> dict[str, float]:
    """Median milliseconds of each listing case's index call in this
    process (what a worker asks the index for a page: ``query_built``),
    without HTTP: the server-side cost of the index alone."""
    from heater.catalog.index import Query, Sort

    timings = {}
    for case, fields in LISTING_QUERIES.items():
        if "sort" in fields:
            fields = {**fields, "sort": Sort(*fields["sort"])}
        query = Query("template", **fields)
        if case == LATER_CASE:
            for _ in range(LATER_PAGE - 1):
                marker = index.query(query).next_marker
                if marker is None:
                    break
                query = Query("template", **fields, marker=marker)
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            index.query_built(query)
            samples.append((time.perf_counter() - started) * 1000)
        timings[case] = statistics.median(samples)
    return timings


def later_page(url: str) -> str:
    """The path of page LATER_PAGE of the plain listing on the server at
    ``url`` (or of its last page, if fewer), found by following its
    ``next`` links."""
    path = LISTING_CASES["list"]
    for _ in range(LATER_PAGE - 1):
        next_url = requests.get(url + path, timeout=30).json()["next"]
        if next_url is None:
            break
        path = next_url.removeprefix(url)
    return path


def raw_path() -> str:
    repo = repo_id(1)
    return f"/{repo.namespace}/{repo.name}/raw/v1.0.0/template.yaml"


@dataclass
class Side:
    """One server of the comparison: a data directory on an index backend."""

    data_dir: Path
    env: dict[str, str]


@dataclass
class Measured:
    """What :func:`bench_all` found: per side and case, the median result
    and the body (without the server's own URL) of the first answer."""

    results: dict[str, dict[str, Result]]
    bodies: dict[str, dict[str, str]]
    floors: dict[str, Result]
    tiny: Result | None


def bench_all(work: Path, sides: dict[str, Side], args: argparse.Namespace, floor: bool
              ) -> Measured:
    """Every case on every side, and (if ``floor``) the floor beside each case.

    All servers run at once; each round measures each case on each of them
    in turn, then on the floor, so that background load shifts all sides of
    a case alike; each figure is the median of the rounds."""
    cases = {**LISTING_CASES, "raw (version)": raw_path()}
    labels = [*sides, "floor"] if floor else list(sides)
    runs: dict[str, dict[str, list[Result]]] = {
        side: {case: [] for case in cases} for side in labels}
    tiny = None
    with contextlib.ExitStack() as stack:
        servers = {label: stack.enter_context(serving(heater_serve(side.data_dir, args.workers),
                                                      work / f"serve-{label}.log", side.env))
                   for label, side in sides.items()}
        if floor:
            body = requests.get(servers["large"].url + LISTING_CASES["list"], timeout=10).json()
            (work / "body.json").write_text(json.dumps(body))
            servers["floor"] = stack.enter_context(
                serving(floor_serve(work / "body.json", args.workers), work / "floor.log"))
        paths = {label: {**cases, LATER_CASE: later_page(servers[label].url)}
                 for label in sides}
        bodies = {label: {case: requests.get(servers[label].url + path, timeout=30)
                          .text.replace(servers[label].url, "")
                          for case, path in paths[label].items()}
                  for label in sides}
        paths["floor"] = dict.fromkeys(cases, "/floor")
        for round_ in range(args.rounds):
            for case in cases:
                for label in labels:
                    url = servers[label].url + paths[label][case]
                    runs[label][case].append(measure(url, args))
                print(f"  round {round_ + 1} {case}: "
                      + ", ".join(f"{side} {runs[side][case][-1]}" for side in runs),
                      file=sys.stderr)
        if floor:
            tiny = median_result([measure(servers["floor"].url + "/healthz", args)
                                  for _ in range(args.rounds)])
    medians = {side: {case: median_result(results) for case, results in by_case.items()}
               for side, by_case in runs.items()}
    floors = medians.pop("floor", {})
    return Measured(medians, bodies, floors, tiny)


def median_result(results: list[Result]) -> Result:
    return Result(statistics.median(r.p50_ms for r in results),
                  statistics.median(r.p99_ms for r in results),
                  statistics.median(r.rps for r in results), results[0].entries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    floor = sub.add_parser("floor", help=argparse.SUPPRESS)
    floor.add_argument("--body", type=Path, required=True)
    floor.add_argument("--workers", type=int, default=2)
    parser.add_argument("--index", choices=["sqlite", "postgresql"], default="sqlite",
                        help="postgresql: the same cases on SQLite and PostgreSQL side by "
                             "side, at 10,000 and 100,000 templates by default")
    parser.add_argument("--templates", type=int)
    parser.add_argument("--reindex-only", action="store_true",
                        help="only time `heater reindex` of --templates templates (from "
                             "scratch and again), SQLite and, with --index postgresql, "
                             "PostgreSQL side by side")
    parser.add_argument("--small", type=int)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=3, help="per wrk run (default 3)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds over every case and server; medians are shown (default 3)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--work", type=Path, help="keep data here (default: a temp dir)")
    parser.add_argument("--cache", type=Path,
                        help="keep the generated data directories here, as templates-<count> "
                             "with their SQLite index, for later runs of either --index "
                             "(generating 100,000 takes half an hour)")
    parser.add_argument("--no-reindex", dest="reindex", action="store_false",
                        help="postgresql: do not time `heater reindex`; use the SQLite index "
                             "as it is (built if missing) and copy its entries into PostgreSQL")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args()
    large, small = ((100_000, 10_000) if args.index == "postgresql" or args.reindex_only
                    else (10_000, 100))
    args.templates = args.templates or large
    args.small = args.small or small
    if args.command == "floor":
        run_floor(args.body, args.workers)
        return 0

    work = args.work or Path(tempfile.mkdtemp(prefix="heater-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return report(args, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def generate_sizes(args: argparse.Namespace, work: Path) -> dict[str, Path]:
    """The data directories ``small`` and ``large``, generated unless an
    earlier run left them complete: in ``--cache`` as ``templates-<count>``
    (with their SQLite index), else in the work directory."""
    return {"small": generated(args, work, "small", args.small),
            "large": generated(args, work, "large", args.templates)}


def generated(args: argparse.Namespace, work: Path, label: str, count: int) -> Path:
    """The data directory of ``count`` templates, generated unless an earlier
    run left it complete (in ``--cache``, else in the work directory as
    ``label``)."""
    data = args.cache / f"templates-{count}" if args.cache else work / label
    done = data.with_name(data.name + ".generated")
    if not done.exists():
        # An interrupted generation resumes: finished repositories are kept.
        started = time.monotonic()
        generate(data, count, args.corpus)
        done.touch()
        print(f"generated {count} templates in {time.monotonic() - started:.1f} s",
              file=sys.stderr)
    return data


@dataclass
class Timed:
    """A run of ``heater reindex``: wall-clock and CPU seconds (its own and
    its reader processes'; PostgreSQL's server processes are not counted)."""

    seconds: float
    cpu_seconds: float

    def __str__(self) -> str:
        return f"{self.seconds:.1f} s ({self.cpu_seconds:.1f} s of CPU)"


def timed_reindex(data_dir: Path, env: dict[str, str], scratch: bool = True) -> Timed:
    """``heater reindex`` of ``data_dir``, from scratch unless ``scratch`` is
    False (the SQLite file deleted first; a PostgreSQL database is new,
    and the SQLite file is kept)."""
    if scratch and "HEATER_DSN" not in env:
        Layout(data_dir).index_db.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(Layout(data_dir).index_db) + suffix).unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "heater", "reindex", "--data-dir", str(data_dir)],
                   check=True, env={**os.environ, **env})
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(seconds, cpu)


def report_reindex(args: argparse.Namespace, work: Path) -> int:
    """Only ``heater reindex`` of the large data directory: from scratch,
    then again over the full index, on SQLite and (``--index postgresql``)
    PostgreSQL, side by side."""
    from tests.services.postgres import PostgresServer

    data = generated(args, work, "large", args.templates)
    envs: dict[str, dict[str, str]] = {"sqlite": {}}
    load = os.getloadavg()[0]
    postgres = PostgresServer(work / "postgresql", durable=True) \
        if args.index == "postgresql" else None
    try:
        if postgres is not None:
            envs["postgresql"] = {"HEATER_INDEX": "postgresql",
                                  "HEATER_DSN": postgres.create_database("bench_reindex")}
        runs = {backend: (timed_reindex(data, env), timed_reindex(data, env, scratch=False))
                for backend, env in envs.items()}
    finally:
        if postgres is not None:
            postgres.stop()
    lines = [f"`heater reindex` of {args.templates} templates "
             f"({os.cpu_count()} cores, load average before: {load:.1f}, "
             f"after: {os.getloadavg()[0]:.1f})", "",
             "| index | from scratch | again, over the full index | target |",
             "|---|---|---|---|"]
    for backend, (cold, warm) in runs.items():
        lines.append(f"| {backend} | {cold} | {warm} | {PG_REINDEX_TARGET_S} s "
                     f"{verdict(cold.seconds <= PG_REINDEX_TARGET_S)} |")
    return printed(lines, args.out)


def sqlite_built(data_dir: Path) -> None:
    """Build the SQLite index of ``data_dir`` unless it is built already."""
    from heater.catalog.sqlite import SqliteIndex

    db = Layout(data_dir).index_db
    with contextlib.suppress(Exception):  # missing, damaged: rebuilt below
        if db.exists() and SqliteIndex(db, create=False).is_built():
            return
    timed_reindex(data_dir, {})


def copy_index(data_dir: Path, dsn: str) -> None:
    """Fill the PostgreSQL index at ``dsn`` with the entries of the SQLite
    index of ``data_dir`` (the same entries a reindex would read from git,
    without reading git again), and mark it built."""
    import sqlite3

    from heater.catalog.index import Entry
    from heater.catalog.postgres import PostgresIndex

    index = PostgresIndex(dsn)
    with index.exclusive(), contextlib.closing(sqlite3.connect(Layout(data_dir).index_db)) as db:
        index.repair()
        index.upsert_many(Entry.from_json(json.loads(row[0]))
                          for row in db.execute("SELECT document FROM entries"))
        index.set_built()
    index.db.close()


def report(args: argparse.Namespace, work: Path) -> int:
    if args.reindex_only:
        return report_reindex(args, work)
    if args.index == "postgresql":
        return report_postgresql(args, work)
    data = generate_sizes(args, work)
    reindex = timed_reindex(data["large"], {})
    sides = {label: Side(path, {}) for label, path in data.items()}
    measured = bench_all(work, sides, args, floor=True)
    results, floors, tiny = measured.results, measured.floors, measured.tiny
    assert tiny is not None

    lines = [
        f"Catalog benchmark: {args.templates} and {args.small} templates, "
        f"{args.workers} gunicorn workers x 16 threads, wrk 1 connection for latency "
        f"and {args.connections} for throughput, {args.seconds} s each; the three servers "
        f"run at once and each of {args.rounds} rounds measures each case on each in turn, "
        "the floor last; medians of the rounds.",
        "",
        f"`heater reindex` of {args.templates} templates: {reindex} "
        f"(target {REINDEX_TARGET_S} s) {verdict(reindex.seconds <= REINDEX_TARGET_S)}",
        "",
        f"| case | entries shown @{args.small} / @{args.templates} | p50 ms @{args.small} | "
        f"p50 ms @{args.templates} | ratio | p99 ms @{args.templates} | req/s @{args.small} | "
        f"req/s @{args.templates} | floor req/s | req/s / floor | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    small, big = results["small"], results["large"]
    for case in big:
        ratio = big[case].p50_ms / small[case].p50_ms
        of_floor = big[case].rps / floors[case].rps
        met = (ratio <= RATIO_TARGET and big[case].p50_ms <= P50_TARGET_MS
               and of_floor >= FLOOR_TARGET)
        shown = (f"{small[case].entries} / {big[case].entries}"
                 if big[case].entries is not None else "")
        lines.append(
            f"| {case} | {shown} | {small[case].p50_ms:.2f} | {big[case].p50_ms:.2f} | "
            f"{ratio:.2f} | {big[case].p99_ms:.2f} | {small[case].rps:.0f} | {big[case].rps:.0f} | "
            f"{floors[case].rps:.0f} | {of_floor:.2f} | {verdict(met)} |")
    floor_p50 = sorted(f.p50_ms for f in floors.values())
    lines += [
        "",
        f"Floor (bare Flask answering the 50-entry page as JSON): p50 {floor_p50[0]:.2f} to "
        f"{floor_p50[-1]:.2f} ms; a tiny JSON answer: p50 {tiny.p50_ms:.2f} ms, "
        f"{tiny.rps:.0f} req/s.",
        f"Targets: 10,000/100 p50 ratio <= {RATIO_TARGET}, p50 <= {P50_TARGET_MS} ms, "
        f"req/s >= {FLOOR_TARGET} of the floor.",
    ]
    return printed(lines, args.out)


PG_RATIO_TARGET = 2.0
PG_P50_TARGET_MS = 10.0
PG_REINDEX_TARGET_S = 300


def report_postgresql(args: argparse.Namespace, work: Path) -> int:
    """SQLite and PostgreSQL side by side on the same data directories."""
    from heater.catalog.postgres import PostgresIndex
    from heater.catalog.sqlite import SqliteIndex
    from tests.services.postgres import PostgresServer

    data = generate_sizes(args, work)
    # Its own temporary directory (as in the tests), which the server's user
    # can reach whatever the work directory's mode.
    postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="heater-bench-pg-")), durable=True)
    try:
        envs = {label: {"HEATER_INDEX": "postgresql",
                        "HEATER_DSN": postgres.create_database(f"bench_{label}")}
                for label in data}
        reindex: dict[str, Timed] = {}
        if args.reindex:
            reindex = {"sqlite": timed_reindex(data["large"], {}),
                       "postgresql": timed_reindex(data["large"], envs["large"])}
        else:
            for label, path in data.items():
                sqlite_built(path)
                started = time.monotonic()
                copy_index(path, envs[label]["HEATER_DSN"])
                print(f"copied the {label} index into PostgreSQL in "
                      f"{time.monotonic() - started:.1f} s", file=sys.stderr)
        sides = {f"{backend} {label}": Side(path, envs[label] if backend != "sqlite" else {})
                 for backend in ("sqlite", "postgresql") for label, path in data.items()}
        measured = bench_all(work, sides, args, floor=False)
        # The index alone, in this process, with the servers stopped.
        in_process = {"sqlite": index_timings(SqliteIndex(Layout(data["large"]).index_db,
                                                          create=False)),
                      "postgresql": index_timings(PostgresIndex(envs["large"]["HEATER_DSN"]))}
    finally:
        postgres.stop()
    results = measured.results
    n, big = args.small, args.templates
    lines = [
        f"Catalog benchmark, SQLite and PostgreSQL side by side: {n} and {big} templates, "
        f"each data directory served by two `heater serve` (one per index backend), "
        f"{args.workers} gunicorn workers x 16 threads each; wrk 1 connection for latency "
        f"and {args.connections} for throughput, {args.seconds} s each; the four servers "
        f"run at once and each of {args.rounds} rounds measures each case on each in turn; "
        "medians of the rounds. Index ms: the index call of a page (`query_built`) in one "
        "process, median of 200, at the larger size.",
        "",
    ]
    for backend, timed in reindex.items():
        lines.append(f"`heater reindex` of {big} templates on {backend}: "
                     f"{timed} (target {PG_REINDEX_TARGET_S} s) "
                     f"{verdict(timed.seconds <= PG_REINDEX_TARGET_S)}")
    lines += [
        "",
        f"| case | entries shown @{n} / @{big} | SQLite p50 ms @{n} | PostgreSQL p50 ms @{n} | "
        f"SQLite p50 ms @{big} | PostgreSQL p50 ms @{big} | PostgreSQL / SQLite @{big} | "
        f"PostgreSQL p99 ms @{big} | index ms SQLite / PostgreSQL @{big} | "
        f"SQLite req/s @{big} | PostgreSQL req/s @{big} | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in results["sqlite large"]:
        lite_s, lite_l = results["sqlite small"][case], results["sqlite large"][case]
        pg_s, pg_l = results["postgresql small"][case], results["postgresql large"][case]
        ratio = pg_l.p50_ms / lite_l.p50_ms
        index_ms = ""
        met = ratio <= PG_RATIO_TARGET
        if case in in_process["postgresql"]:
            lite_ms, pg_ms = in_process["sqlite"][case], in_process["postgresql"][case]
            index_ms = f"{lite_ms:.2f} / {pg_ms:.2f}"
            met = met and pg_ms <= PG_P50_TARGET_MS
        shown = f"{pg_s.entries} / {pg_l.entries}" if pg_l.entries is not None else ""
        different = [label for label in data if measured.bodies[f"sqlite {label}"][case]
                     != measured.bodies[f"postgresql {label}"][case]]
        if different:
            shown += f" (answers DIFFERENT @{', '.join(different)})"
            met = False
        lines.append(
            f"| {case} | {shown} | {lite_s.p50_ms:.2f} | {pg_s.p50_ms:.2f} | {lite_l.p50_ms:.2f} "
            f"| {pg_l.p50_ms:.2f} | {ratio:.2f} | {pg_l.p99_ms:.2f} | {index_ms} | "
            f"{lite_l.rps:.0f} | {pg_l.rps:.0f} | {verdict(met)} |")
    lines += ["", "Both backends gave identical answers (bodies) to every case at both sizes."
              if all(measured.bodies[f"sqlite {label}"] == measured.bodies[f"postgresql {label}"]
                     for label in data) else "Some answers differ: see the table."]
    lines += ["", f"Targets at {big} templates: PostgreSQL full-request p50 <= "
              f"{PG_RATIO_TARGET} x SQLite's, its index call <= {PG_P50_TARGET_MS} ms "
              f"server-side; reindex <= {PG_REINDEX_TARGET_S} s."]
    return printed(lines, args.out)


def printed(lines: list[str], out: Path | None) -> int:
    """Print a report's ``lines`` (and write them to ``out``); exit status 0."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
