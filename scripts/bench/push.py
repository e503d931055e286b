"""A one-commit push to Heater (validation included) against the same push to
stock ``git http-backend`` behind lighttpd.

Both servers run on 127.0.0.1, each with a repository of its own. Each round
makes one commit that changes the template (so Heater validates one YAML
file) and times the whole ``git push`` as the user sees it; rounds alternate
between the servers so that background load hits both alike. Printed: what
was compared, medians, 90th percentiles and the ratio of medians against the
target (at most 1.3). Run it through ``scripts/bench/push``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import Bench, Endpoint, clean_git_env, git, git_version, run_main
from measure import Samples, interleaved, stopwatch

from heater.cli.serve import THREADS_PER_WORKER
from heater.names import RepoId

TARGET = 1.3
REPO = RepoId("bench", "push")
# The JSON report's names for the two sides, as before the shared harness.
LABELS = {"heater": "heater", "http-backend": "git-http-backend"}
TEMPLATE = """heat_template_version: 2018-08-31
description: {description}
parameters:
  image:
    type: string
resources:
  server:
    type: OS::Nova::Server
    properties:
      image: {{get_param: image}}
      flavor: m1.small
      user_data: {{get_file: files/init.sh}}
outputs:
  ip:
    value: {{get_attr: [server, first_address]}}
"""
CLIENT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
              "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
              "LANG": "C"}


class Pusher:
    """One work tree per server; each :meth:`push` commits a new template and times
    the ``git push`` of that one commit."""

    def __init__(self, run_dir: Path, urls: dict[str, str]) -> None:
        self.urls = urls
        self.env = clean_git_env(CLIENT_ENV)
        self.works = {side: run_dir / f"work-{side}" for side in urls}
        self.rounds = 0

    def prepare(self) -> None:
        """The first commit (template and the file it includes), pushed untimed."""
        for side, work in self.works.items():
            git("init", "-q", "-b", "main", str(work), env=self.env)
            (work / "files").mkdir()
            (work / "files" / "init.sh").write_text("#!/bin/sh\necho hello\n")
            (work / "template.yaml").write_text(TEMPLATE.format(description="round 0"))
            git("add", "-A", cwd=work, env=self.env)
            git("commit", "-q", "-m", "initial", cwd=work, env=self.env)
            git("push", "-q", self.urls[side], "main", cwd=work, env=self.env)

    def push(self, side: str) -> dict[str, float]:
        self.rounds += 1
        work = self.works[side]
        (work / "template.yaml").write_text(TEMPLATE.format(description=f"round {self.rounds}"))
        git("commit", "-q", "-am", f"round {self.rounds}", cwd=work, env=self.env)
        with stopwatch() as elapsed:
            git("push", "-q", self.urls[side], "main", cwd=work, env=self.env)
        return {"wall": elapsed()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/bench/push", description=__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds (default 40)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed rounds before them (default 3)")
    parser.add_argument("--workers", type=int, default=2,
                        help="heater serve --workers (default 2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run directory (server logs) afterwards")
    return parser


def summary(wall: Samples) -> dict[str, dict[str, float]]:
    """Milliseconds per side, under the report's names."""
    return {LABELS[side]: {"median_ms": round(wall.median(side) * 1000, 1),
                           "p90_ms": round(wall.percentile(side, 90) * 1000, 1),
                           "min_ms": round(wall.minimum(side) * 1000, 1)}
            for side in LABELS}


def report(servers: dict[str, Endpoint], args: argparse.Namespace, wall: Samples,
           load: float) -> dict[str, Any]:
    heater, backend = servers["heater"], servers["http-backend"]
    return {
        "compared": {
            "heater": f"{heater.describe}, {THREADS_PER_WORKER} threads per worker",
            "git-http-backend": f"{backend.describe}, pushes need HTTP Basic "
                                "(mod_auth, as in git-http-backend(1))",
        },
        "credentials": "a writer token as the password in the URL, the same for both "
                       "(git's first request goes without it and gets 401 from both)",
        "data": "one commit changing template.yaml (a HOT template Heater validates, "
                "with one get_file), pushed as a fast-forward of main",
        "client": f"{git_version()}: git push -q",
        "method": f"{args.rounds} rounds after {args.warmup} of warm-up, servers alternated; "
                  f"load average at start {load:.2f} on {os.cpu_count()} cores",
        "rounds": args.rounds,
        "results": summary(wall),
        "ratio_of_medians": round(wall.ratio("heater", "http-backend"), 2),
        "target": TARGET,
    }


def text(result: dict[str, Any]) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"push benchmark, {when}"]
    lines += [f"  {name:<18}{describe}" for name, describe in result["compared"].items()]
    lines += [f"  {key:<18}{result[key]}" for key in ("credentials", "data", "client",
                                                       "method")]
    lines.append("")
    for name, stats in result["results"].items():
        lines.append(f"{name:18} median {stats['median_ms']:7.1f} ms   "
                     f"p90 {stats['p90_ms']:7.1f} ms   min {stats['min_ms']:7.1f} ms")
    cpu = result.get("server_cpu_ms_per_push")
    if cpu:
        lines.append("server CPU per push (whole process tree, git included): "
                     + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu.items()))
    ratio = result["ratio_of_medians"]
    verdict = "ok" if ratio <= TARGET else "MISSED"
    lines.append(f"ratio of medians (heater / git-http-backend): {ratio:.2f}  "
                 f"(target <= {TARGET}) {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.rounds < 1 or args.warmup < 0 or args.workers < 1:
        print("push: --rounds and --workers must be at least 1, --warmup at least 0",
              file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    with Bench(keep=args.keep) as bench:
        heater_data = bench.data_dir("heater-data")
        token = bench.create_token(heater_data, "writer", REPO.namespace)
        backend_data = bench.data_dir("backend-data")
        git("init", "-q", "--bare", "-b", "main", str(backend_data.repository(REPO)))
        servers = {"heater": bench.start_heater(heater_data, args.workers),
                   "http-backend": bench.start_http_backend(backend_data, push_password=token)}
        pusher = Pusher(bench.run_dir, {
            # Heater creates the repository on the first push.
            "heater": servers["heater"].clone_url(REPO, password=token),
            "http-backend": servers["http-backend"].clone_url(REPO, password=token),
        })
        pusher.prepare()
        sides = list(servers)
        print(f"{args.warmup} rounds of warm-up, then {args.rounds} timed ...", file=sys.stderr)
        interleaved(sides, args.warmup, pusher.push)
        cpu_before = {side: servers[side].cpu_seconds() for side in sides}
        wall = interleaved(sides, args.rounds, pusher.push)["wall"]
        cpu = {LABELS[side]: round((servers[side].cpu_seconds() - cpu_before[side])
                                   / args.rounds * 1000, 1) for side in sides}
        result = report(servers, args, wall, load)
        result["server_cpu_ms_per_push"] = cpu
    print(json.dumps(result, indent=2) if args.json else text(result))
    return 0


if __name__ == "__main__":
    run_main("push", main)
