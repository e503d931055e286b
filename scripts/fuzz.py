"""Fuzz the REST API from its own OpenAPI document with schemathesis.

``schemathesis run`` reads ``/api/v1/openapi.json`` of a running Heater and
sends generated requests, valid and invalid, to every documented operation,
with an admin token so that authenticated paths are reached too. A response
fails when it is a 5xx, or when its status, content type or body is not what
the document says. Seeded data (a public and a private template with a
released version, an image build with its file) give the generator names
that exist, beside the random ones (``fuzz.toml``). Request bodies of the git
services are sent as raw bytes (``fuzz_hooks.py``).

Without ``--url`` a server is started on loopback with two workers and
stopped afterwards. The test suite runs :func:`run` with a small budget
(``tests/system/test_fuzz.py``); ``scripts/fuzz`` is the longer run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "fuzz.toml"
# Not a server error, and everything the document promises of a response.
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")
NAMESPACE = "fuzz"
TEMPLATE = f"{NAMESPACE}/web"
PRIVATE = f"{NAMESPACE}/private"
IMAGE = f"{NAMESPACE}/disk"
VERSION = "v1.0.0"
TEMPLATE_TEXT = ("heat_template_version: 2018-08-31\ndescription: fuzzed\n"
                 "resources:\n  nothing: {type: OS::Heat::None}\n")
MANIFEST = {"disk_format": "raw", "container_format": "bare",
            "os": {"distro": "ubuntu", "version": "22.04"}, "packages": []}
REQUEST_TIMEOUT = 60.0
# The seeded build, known only once seeded: added to fuzz.toml for the run.
BUILD_BINDING = """
[dictionaries.build]
values = ["{build}"]

[parameters."path.build_id"]
dictionary = "build"
probability = 0.5
"""


def seed(url: str, token: str) -> str:
    """The data the generator draws names from (see ``fuzz.toml``); the id of
    the image build, whose file is uploaded."""
    for repo, visibility in ((TEMPLATE, "public"), (PRIVATE, "private")):
        namespace, name = repo.split("/")
        try:
            _call(url, token, "POST", "/api/v1/templates",
                  {"namespace": namespace, "name": name, "visibility": visibility,
                   "files": {"template.yaml": TEMPLATE_TEXT}})
            _call(url, token, "POST", f"/api/v1/templates/{repo}/versions",
                  {"version": VERSION, "ref": "main", "message": "fuzz"})
        except urllib.error.HTTPError as error:
            if error.code != 409:  # seeded by an earlier run: fine
                raise
    build = str(json.loads(_call(url, token, "POST", f"/api/v1/images/{IMAGE}/builds",
                                 MANIFEST))["build_id"])
    _call(url, token, "PUT", f"/api/v1/builds/{build}/file", b"\0" * 4096)
    return build


def _call(url: str, token: str, method: str, path: str, body: object) -> bytes:
    data, kind = ((body, "application/octet-stream") if isinstance(body, bytes)
                  else (json.dumps(body).encode(), "application/json"))
    request = urllib.request.Request(f"{url}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": kind})
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
        answer: bytes = response.read()
        return answer


def run(url: str, token: str, build: str, workdir: Path, *, examples: int,
        seed_value: int | None, max_time: float | None = None, extra: Sequence[str] = (),
        timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``schemathesis run`` against the server at ``url``, its caches in
    ``workdir``: at most ``examples`` cases per operation (with ``max_time``,
    fuzzing goes on until that many seconds are spent); its output and exit
    status (0: nothing failed)."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG.read_text() + BUILD_BINDING.format(build=build))
    argv = [str(Path(sys.executable).with_name("schemathesis")),
            "--config-file", str(config), "run", f"{url}/api/v1/openapi.json",
            "--header", f"Authorization: Bearer {token}",
            "--checks", ",".join(CHECKS), "--max-examples", str(examples),
            # One worker: Python 3.11's ast.parse is not thread-safe, and
            # hypothesis calls it to describe its strategies.
            "--workers", "1", "--no-color", *extra]
    if seed_value is not None:
        argv += ["--seed", str(seed_value)]
    if max_time is not None:
        argv += ["--max-time", str(int(max_time))]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE),
                                                       os.environ.get("PYTHONPATH")]))}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                          check=False, cwd=workdir)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300,
                        help="cases per operation (default 300)")
    parser.add_argument("--max-time", type=float, default=900,
                        help="seconds for the whole run: fuzzing repeats until they "
                             "are spent (default 900)")
    parser.add_argument("--seed", type=int, default=None,
                        help="reproduce a run (default: a new seed, printed)")
    parser.add_argument("--url", help="fuzz this running server instead of starting one "
                                      "(seeded first; needs --token)")
    parser.add_argument("--token", help="an admin token of the server at --url")
    parser.add_argument("extra", nargs="*",
                        help="after --: more options for schemathesis run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.examples < 1 or args.max_time < 1:
        print("fuzz: --examples and --max-time must be positive", file=sys.stderr)
        return 2
    if args.url:
        if not args.token:
            print("fuzz: --url needs --token (an admin token)", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory() as workdir:
            return _fuzz(args, args.url.rstrip("/"), args.token, Path(workdir))
    sys.path.insert(0, str(HERE / "bench"))
    from harness import Bench

    with Bench() as bench:
        layout = bench.data_dir()
        token = bench.create_token(layout, "admin")
        heater = bench.start_heater(layout, workers=2)
        return _fuzz(args, heater.url, token, bench.run_dir)


def _fuzz(args: argparse.Namespace, url: str, token: str, workdir: Path) -> int:
    build = seed(url, token)
    print(f"fuzz: {url}, {args.examples} cases per operation, at most "
          f"{args.max_time:.0f} s ...", file=sys.stderr)
    result = run(url, token, build, workdir, examples=args.examples, seed_value=args.seed,
                 max_time=args.max_time, extra=args.extra)
    print(result.stdout, result.stderr, sep="\n")
    return result.returncode


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("fuzz: interrupted", file=sys.stderr)
        sys.exit(130)
