"""Shared harness of the benchmarks: servers, clean-up, timing.

A benchmark opens one :class:`Bench` (a context manager). Everything it
starts (Heater, lighttpd with ``git http-backend``, git clients) runs in a
process group of its own and is stopped when the ``with`` block ends, by
success, error, Ctrl-C or SIGTERM alike; scratch files live in one run
directory that goes with it.

Both servers serve the same bare repositories: Heater from
``<data-dir>/git/<ns>/<name>.git`` as :mod:`heater.paths` lays them out, and
``git http-backend`` with ``GIT_PROJECT_ROOT=<data-dir>/git``, so
``/<ns>/<name>.git`` names the same directory on both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from heater.names import RepoId
from heater.paths import Layout

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO_ROOT / ".bench"  # git-ignored: cached repositories, run directories
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
LIGHTTPD_CANDIDATES = ("lighttpd", "/usr/sbin/lighttpd")


def clean_git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a git client: no user or system config, never a prompt,
    so that both servers meet the same client."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    env.update(extra or {})
    return env


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Endpoint:
    """A running server: its base URL (clone URLs are ``<url>/<ns>/<name>.git``)."""

    name: str
    url: str
    describe: str
    log: Path
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's process group, ended children included."""
        return group_cpu_seconds(self.pid)

    def clone_url(self, repo: RepoId) -> str:
        return f"{self.url}/{repo}.git"


class _Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, turned into an exception so that clean-up runs."""


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise _Interrupted(f"signal {signum}")


@dataclass
class Bench:
    """A run: its scratch directory and every process it started."""

    keep: bool = False
    root: Path = BENCH_DIR
    run_dir: Path = field(init=False)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False)
    _old_handlers: dict[int, Any] = field(default_factory=dict, init=False)

    def __enter__(self) -> Bench:
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self.root))
        for signum in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[signum] = signal.signal(signum, _raise_interrupted)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # A second Ctrl-C must not cut the clean-up short.
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.stop_all()
        finally:
            signal.signal(signal.SIGINT, old_int)
            for signum, handler in self._old_handlers.items():
                signal.signal(signum, handler)
        # Logs explain a failure; an interrupted run leaves nothing behind.
        if not self.keep and (exc is None or isinstance(exc, KeyboardInterrupt)):
            shutil.rmtree(self.run_dir, ignore_errors=True)
        else:
            print(f"run directory (logs) kept: {self.run_dir}", file=sys.stderr)

    # -- processes -----------------------------------------------------------

    def spawn(self, argv: Sequence[str], *, log: Path | None = None,
              env: dict[str, str] | None = None, cwd: Path | None = None
              ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in a new process group that :meth:`stop_all` will end."""
        with log.open("ab") if log else open(os.devnull, "wb") as out:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=env,
                                    cwd=cwd, start_new_session=True)
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """End ``proc`` and everything in its process group: TERM, then KILL.
        A process that already ended on its own is only forgotten."""
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_TIMEOUT)
            # Children (a server's git processes) may outlive their parent.
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_TIMEOUT)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self._procs)):
            self.stop(proc)

    # -- servers -------------------------------------------------------------

    def data_dir(self, name: str = "data") -> Layout:
        layout = Layout(self.run_dir / name)
        layout.ensure()
        return layout

    def start_heater(self, layout: Layout, workers: int) -> Endpoint:
        """``heater serve`` on a free loopback port, started as a user would."""
        heater = Path(sys.executable).with_name("heater")
        log = self.run_dir / "heater.log"
        port = free_port()
        argv = [str(heater), "serve", "--bind", f"127.0.0.1:{port}",
                "--data-dir", str(layout.root), "--workers", str(workers)]
        proc = self.spawn(argv, log=log)
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/healthz", proc, log)
        return Endpoint("heater", url, f"heater serve --workers {workers} (gunicorn gthread)",
                        log, proc.pid)

    def start_http_backend(self, layout: Layout) -> Endpoint:
        """``git http-backend`` as CGI under lighttpd on a free loopback port, serving
        every repository below ``layout.git_root``."""
        lighttpd = ensure_lighttpd()
        backend = Path(_git_output("--exec-path").strip()) / "git-http-backend"
        port = free_port()
        conf = self.run_dir / "lighttpd.conf"
        log = self.run_dir / "lighttpd.log"
        conf.write_text(_lighttpd_conf(port, backend, layout.git_root, self.run_dir))
        proc = self.spawn([lighttpd, "-D", "-f", str(conf)], log=log)
        url = f"http://127.0.0.1:{port}/git"
        probe = f"{url}/nonexistent.git/info/refs?service=git-upload-pack"
        _wait_http(probe, proc, log, accept=(200, 403, 404))
        version = _first_line([lighttpd, "-v"]).split()[0]
        return Endpoint("http-backend", url,
                        f"git http-backend (CGI) under {version}", log, proc.pid)


def group_cpu_seconds(pgid: int) -> float:
    """User + system time of every process in group ``pgid``, with the children
    each has waited for (so a git process that ended counts, via its parent)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while we looked
            continue
        # The command name (field 2) may hold spaces; the rest follows its ')'.
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # field 5, pgrp
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path,
               accept: tuple[int, ...] = (200,)) -> None:
    """Wait until ``url`` answers one of ``accept``; fail if ``proc`` dies or time runs out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}); log:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status in accept:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in accept:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {STARTUP_TIMEOUT:.0f} s; "
                       f"log:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _lighttpd_conf(port: int, backend: Path, project_root: Path, run_dir: Path) -> str:
    # The CGI set-up of git-http-backend(1)'s lighttpd example. Responses
    # stream to the client as the CGI writes them (stream-response-body 1),
    # as they do through Heater, instead of being buffered whole first.
    return f"""\
server.modules = ("mod_alias", "mod_cgi", "mod_setenv", "mod_accesslog")
server.bind = "127.0.0.1"
server.port = {port}
server.document-root = "{run_dir}"
server.errorlog = "{run_dir / 'lighttpd-error.log'}"
server.pid-file = "{run_dir / 'lighttpd.pid'}"
server.upload-dirs = ("{run_dir}")
server.stream-response-body = 1
server.stream-request-body = 1
accesslog.filename = "{run_dir / 'lighttpd-access.log'}"
alias.url = ("/git" => "{backend}")
$HTTP["url"] =~ "^/git" {{
    cgi.assign = ("" => "")
    setenv.add-environment = (
        "GIT_PROJECT_ROOT" => "{project_root}",
        "GIT_HTTP_EXPORT_ALL" => "",
        "GIT_CONFIG_NOSYSTEM" => "1",
        "GIT_CONFIG_GLOBAL" => "/dev/null",
    )
}}
"""


def ensure_lighttpd() -> str:
    """The lighttpd binary, installed from Debian's packages if missing."""
    found = _find_lighttpd()
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise RuntimeError("lighttpd is not installed and apt-get is not available; "
                           "install lighttpd and run again")
    print("installing lighttpd (apt-get) ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-q"], check=True, env=env, timeout=600,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends",
                    "lighttpd"], check=True, env=env, timeout=600, stdout=subprocess.DEVNULL)
    found = _find_lighttpd()
    if not found:
        raise RuntimeError("lighttpd still not found after apt-get install lighttpd")
    return found


def _find_lighttpd() -> str | None:
    for candidate in LIGHTTPD_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _git_output(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True,
                          env=clean_git_env(), timeout=60).stdout


def _first_line(argv: Sequence[str]) -> str:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    return (out.stdout or out.stderr).strip().splitlines()[0]


def git_version() -> str:
    return _git_output("--version").strip()


def place_repository(source: Path, layout: Layout, repo: RepoId) -> Path:
    """Copy the bare repository ``source`` to where ``layout`` keeps ``repo``."""
    dest = layout.repository(repo)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, dest, symlinks=True)
    return dest


# -- timing ------------------------------------------------------------------


@dataclass
class Samples:
    """Wall-clock seconds per side, in the order they were taken."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, side: str, value: float) -> None:
        self.seconds.setdefault(side, []).append(value)

    def median(self, side: str) -> float:
        return statistics.median(self.seconds[side])

    def ratio(self, side: str, baseline: str) -> float:
        """The ratio of the medians."""
        return self.median(side) / self.median(baseline)

    def paired_ratio(self, side: str, baseline: str) -> float:
        """The median of the ratios of samples taken in the same round, next to
        each other: less sensitive to load that drifts from round to round."""
        pairs = zip(self.seconds[side], self.seconds[baseline], strict=True)
        return statistics.median(a / b for a, b in pairs)

    def row(self, side: str) -> str:
        return " ".join(f"{v:.2f}" for v in self.seconds[side])


def interleaved(sides: Sequence[str], rounds: int,
                measure: Callable[[str], Mapping[str, float]]) -> dict[str, Samples]:
    """``rounds`` measurements per side, alternating sides and flipping the
    order every round, so that drift in the machine's load hits both alike.
    ``measure(side)`` gives figures by metric name; the result is the samples
    of each metric."""
    metrics: dict[str, Samples] = {}
    for number in range(rounds):
        order = list(sides) if number % 2 == 0 else list(reversed(sides))
        for side in order:
            for metric, value in measure(side).items():
                metrics.setdefault(metric, Samples()).add(side, value)
    return metrics


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed:`` ... ``elapsed()`` is the block's wall time."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())
