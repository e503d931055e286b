"""``/healthz`` latency with and without slow clients holding connections.

Starts ``heater serve`` on loopback, then alternates two phases for
``--rounds`` rounds: ``none`` (only the measuring client) and ``slow``
(``--connections`` clients that each send a request line, then one header
line per ``--interval`` seconds and never finish their headers; a client the
server closes connects again, so the count holds). In each phase one client
asks ``/healthz`` every ``--pace`` seconds for ``--seconds`` seconds, on a
new connection each time. Printed: p50, p99 and worst latency per phase,
answers that did not come, and what the slow clients saw (connections, 408
answers). Run it through ``scripts/bench/slowclients``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import Bench, Endpoint, run_main
from measure import Samples

from heater.cli.serve import THREADS_PER_WORKER, default_workers
from heater.cli.worker import raise_open_files_limit

TARGET_P99 = 0.100  # seconds, with the slow clients connected
HEALTHZ_TIMEOUT = 5.0  # an answer later than this counts as none
SETTLE = 3.0  # seconds between the slow clients being connected and measuring
CONNECT_TIMEOUT = 120.0
SLOW_LINES_MAX = 600  # header lines one slow connection sends at most
HEALTHZ_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Phase:
    latencies: list[float]
    failures: int
    slow: dict[str, int]


def healthz_once(port: int) -> float | None:
    """Seconds for one ``/healthz`` on a new connection; None if no 200 came in time."""
    start = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=HEALTHZ_TIMEOUT) as sock:
            sock.sendall(HEALTHZ_REQUEST)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    except OSError:
        return None
    return time.perf_counter() - start if answer.startswith(b"HTTP/1.1 200") else None


def measure_healthz(port: int, seconds: float, pace: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        took = healthz_once(port)
        if took is None:
            failures += 1
        else:
            latencies.append(took)
        time.sleep(pace)
    return latencies, failures


# -- the slow clients: a child process, so that they do not share the GIL with
#    the measuring client ------------------------------------------------------

async def _slow_connection(port: int, interval: float, offset: float, stop: float,
                           counts: dict[str, int]) -> None:
    lines = 0
    while time.monotonic() < stop and lines < SLOW_LINES_MAX:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts["connect_errors"] += 1
            await asyncio.sleep(interval)
            continue
        counts["connections"] += 1
        counts["open"] += 1
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\n")
            await asyncio.sleep(offset)  # spread the clients' writes over the interval
            while time.monotonic() < stop and lines < SLOW_LINES_MAX:
                writer.write(f"X-Slow-{lines}: {'x' * 20}\r\n".encode())
                lines += 1
                try:
                    answer = await asyncio.wait_for(reader.read(4096), interval)
                except TimeoutError:
                    continue
                counts["answered_408" if answer.startswith(b"HTTP/1.1 408")
                       else "closed_other"] += 1
                break
        except OSError:
            counts["closed_other"] += 1
        finally:
            counts["open"] -= 1
            writer.close()


async def _slow_clients(port: int, connections: int, interval: float, seconds: float,
                        status: Path) -> dict[str, int]:
    counts = dict.fromkeys(("connections", "open", "answered_408", "closed_other",
                            "connect_errors"), 0)
    stop = time.monotonic() + seconds
    tasks = []
    for number in range(connections):
        offset = interval * number / connections
        tasks.append(asyncio.create_task(
            _slow_connection(port, interval, offset, stop, counts)))
        await asyncio.sleep(0.001)  # do not overflow the listen backlog
    while any(not t.done() for t in tasks):
        status.write_text(json.dumps(counts))
        await asyncio.sleep(0.5)
    return counts


def slow_child(argv: Sequence[str]) -> int:
    port, connections, interval, seconds, status = argv
    raise_open_files_limit(int(connections) + 64)
    counts = asyncio.run(_slow_clients(int(port), int(connections), float(interval),
                                       float(seconds), Path(status)))
    Path(status).write_text(json.dumps(counts | {"done": 1}))
    return 0


def run_slow_phase(bench: Bench, server: Endpoint, args: argparse.Namespace) -> Phase:
    status = bench.run_dir / "slow-status.json"
    status.unlink(missing_ok=True)
    port = int(server.url.rsplit(":", 1)[1])
    hold = CONNECT_TIMEOUT + SETTLE + args.seconds
    child = bench.spawn([sys.executable, __file__, "--slow-child", str(port),
                         str(args.connections), str(args.interval), str(hold), str(status)],
                        log=bench.run_dir / "slow-clients.log")
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while _status(status).get("open", 0) < args.connections * 0.99:
        if time.monotonic() > deadline or child.poll() is not None:
            bench.stop(child)
            raise RuntimeError(f"slow clients did not connect: {_status(status)}")
        time.sleep(0.2)
    time.sleep(SETTLE)
    before = _status(status)
    latencies, failures = measure_healthz(port, args.seconds, args.pace)
    after = _status(status)
    bench.stop(child)
    seen = {key: after[key] - before.get(key, 0) for key in after if key != "open"}
    return Phase(latencies, failures, seen | {"open_at_end": after["open"]})


def _status(path: Path) -> dict[str, int]:
    try:
        data: dict[str, int] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/bench/slowclients", description=__doc__)
    parser.add_argument("--connections", type=int, default=1000,
                        help="slow connections held open (default 1000)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between two header lines of a slow client (default 1)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="seconds each phase measures /healthz (default 20)")
    parser.add_argument("--pace", type=float, default=0.05,
                        help="seconds between two /healthz requests (default 0.05)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both phases (default 2)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help=f"heater serve --workers (default {default_workers()}, "
                             "as heater serve without --workers)")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    return parser


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def report(phases: dict[str, list[Phase]], server: Endpoint, args: argparse.Namespace) -> str:
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [
        f"/healthz latency, {server.describe}, {THREADS_PER_WORKER} threads per worker, "
        f"on loopback; {os.cpu_count()} cores, load average now {load}",
        f"slow phase: {args.connections} connections, each sending a header line every "
        f"{args.interval:g} s; /healthz every {args.pace:g} s for {args.seconds:g} s "
        f"per phase, {args.rounds} rounds",
    ]
    ok = True
    for name, runs in phases.items():
        for number, phase in enumerate(runs, 1):
            samples = Samples()
            for value in phase.latencies:
                samples.add(name, value)
            if phase.latencies:
                p99 = samples.percentile(name, 99)
                figures = (f"p50 {_ms(samples.median(name))}  p99 {_ms(p99)}  "
                           f"max {_ms(max(phase.latencies))}")
            else:
                p99 = float("inf")
                figures = "no answer at all"
            lines.append(f"  {name:<4} round {number}: {len(phase.latencies)} answers, "
                         f"{phase.failures} without answer in {HEALTHZ_TIMEOUT:g} s; {figures}")
            if name == "slow":
                lines.append(f"             slow clients: {phase.slow}")
                ok = ok and phase.failures == 0 and p99 <= TARGET_P99
    lines.append(f"target: p99 <= {_ms(TARGET_P99)} and every /healthz answered "
                 f"with the slow clients: {'ok' if ok else 'missed'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if min(args.connections, args.rounds, args.workers) < 1 or args.interval <= 0:
        print("slowclients: --connections, --rounds and --workers must be at least 1, "
              "--interval positive", file=sys.stderr)
        return 2
    with Bench(keep=args.keep) as bench:
        server = bench.start_heater(bench.data_dir(), args.workers)
        port = int(server.url.rsplit(":", 1)[1])
        phases: dict[str, list[Phase]] = {"none": [], "slow": []}
        for number in range(args.rounds):
            for name in ("none", "slow") if number % 2 == 0 else ("slow", "none"):
                print(f"round {number + 1}: {name} ...", file=sys.stderr)
                if name == "slow":
                    phases[name].append(run_slow_phase(bench, server, args))
                else:
                    latencies, failures = measure_healthz(port, args.seconds, args.pace)
                    phases[name].append(Phase(latencies, failures, {}))
        print(report(phases, server, args))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--slow-child"]:
        sys.exit(slow_child(sys.argv[2:]))
    run_main("slowclients", main)
