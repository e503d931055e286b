"""Shared harness of the benchmarks: the servers they compare, and clean-up.

A benchmark opens one :class:`Bench` (a context manager). Everything it
starts (Heater, lighttpd with ``git http-backend`` or serving files, git
clients) runs in a process group of its own and is stopped when the ``with``
block ends, by success, error, Ctrl-C or SIGTERM alike; scratch files live in
one run directory that goes with it. Programs missing from the machine
(lighttpd, curl) are installed with apt-get. What is measured, and how, is in
:mod:`measure`.

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
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from measure import group_cpu_seconds

from heater.names import RepoId
from heater.paths import Layout

if TYPE_CHECKING:
    from tests.services.swift_server import Swift

REPO_ROOT = Path(__file__).resolve().parents[2]

BENCH_DIR = REPO_ROOT / ".bench"  # git-ignored: cached repositories, run directories
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
GIT_TIMEOUT = 300.0
STATIC_CONF = 'server.network-backend = "sendfile"\n'  # lighttpd serving files


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

    def clone_url(self, repo: RepoId, password: str | None = None) -> str:
        """The URL of ``repo``; with ``password``, as git's HTTP Basic credentials."""
        if password is None:
            return f"{self.url}/{repo}.git"
        return f"{self.url.replace('://', f'://bench:{password}@', 1)}/{repo}.git"


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
    _names: dict[str, int] = field(default_factory=dict, init=False)
    _old_handlers: dict[int, Any] = field(default_factory=dict, init=False)
    _cleanups: list[Callable[[], None]] = field(default_factory=list, init=False)

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
        while self._cleanups:
            self._cleanups.pop()()

    def _unique(self, name: str) -> str:
        """``name`` the first time, then ``name-2``, ``name-3``...: file names of a run."""
        self._names[name] = self._names.get(name, 0) + 1
        return name if self._names[name] == 1 else f"{name}-{self._names[name]}"

    # -- servers -------------------------------------------------------------

    def data_dir(self, name: str = "data") -> Layout:
        layout = Layout(self.run_dir / name)
        layout.ensure()
        return layout

    def create_token(self, layout: Layout, role: str, namespace: str | None = None) -> str:
        """A new token of ``role`` in ``layout``'s data directory, made with
        ``heater token create`` as an operator would; its secret."""
        argv = [str(_heater_cli()), "token", "create", self._unique("bench"),
                "--role", role, "--data-dir", str(layout.root)]
        if namespace:
            argv += ["--namespace", namespace]
        out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60)
        return out.stdout.strip().splitlines()[-1]

    def start_heater(self, layout: Layout, workers: int,
                     settings: dict[str, str] | None = None) -> Endpoint:
        """``heater serve`` on a free loopback port, started as a user would;
        ``settings`` are HEATER_* environment variables."""
        log = self.run_dir / f"{self._unique('heater')}.log"
        port = free_port()
        argv = [str(_heater_cli()), "serve", "--bind", f"127.0.0.1:{port}",
                "--data-dir", str(layout.root), "--workers", str(workers)]
        proc = self.spawn(argv, log=log, env={**os.environ, **(settings or {})})
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/healthz", proc, log)
        return Endpoint("heater", url, f"heater serve --workers {workers} (gunicorn gthread)",
                        log, proc.pid)

    def start_http_backend(self, layout: Layout, *, push_password: str | None = None
                           ) -> Endpoint:
        """``git http-backend`` as CGI under lighttpd on a free loopback port, serving
        every repository below ``layout.git_root``: clones and fetches to anyone;
        with ``push_password``, pushes too by the user ``bench`` with that
        password (HTTP Basic, as :meth:`Endpoint.clone_url` sends it)."""
        backend = Path(git("--exec-path").strip()) / "git-http-backend"
        users = None
        if push_password is not None:
            users = self.run_dir / f"{self._unique('users')}.txt"
            users.write_text(f"bench:{push_password}\n")
        body = _http_backend_conf(backend, layout.git_root, users)
        proc, log, base, version = self._start_lighttpd("http-backend", body, self.run_dir)
        url = f"{base}/git"
        probe = f"{url}/nonexistent.git/info/refs?service=git-upload-pack"
        _wait_http(probe, proc, log, accept=(200, 403, 404))
        return Endpoint("http-backend", url, f"git http-backend (CGI) under {version}",
                        log, proc.pid)

    def start_swift(self) -> Swift:
        """A Swift all-in-one in the run directory (the test suite's, Debian's
        packages installed if missing), stopped with the rest."""
        if str(REPO_ROOT) not in sys.path:  # the test suite's helper for real servers
            sys.path.insert(0, str(REPO_ROOT))
        from tests.services.swift_server import start_swift

        swift = start_swift(self.run_dir / "swift")
        self._cleanups.append(swift.stop)
        return swift

    def start_static(self, directory: Path) -> Endpoint:
        """lighttpd serving the files in ``directory`` (sendfile) on a free
        loopback port: ``<url>/<file name>``."""
        proc, log, url, version = self._start_lighttpd("static", STATIC_CONF, directory)
        _wait_http(f"{url}/", proc, log, accept=(200, 403, 404))
        return Endpoint("static", url, f"{version} serving files (sendfile)", log, proc.pid)

    def _start_lighttpd(self, name: str, body: str, document_root: Path
                        ) -> tuple[subprocess.Popen[bytes], Path, str, str]:
        """lighttpd with the common settings and ``body``, serving files from
        ``document_root``, its own files named after ``name``: the process, its
        log, its base URL and its version."""
        lighttpd = ensure_program("lighttpd")
        name = self._unique(name)
        port = free_port()
        conf = self.run_dir / f"{name}.conf"
        log = self.run_dir / f"{name}.log"
        conf.write_text(_lighttpd_conf(port, self.run_dir, name, document_root) + body)
        proc = self.spawn([lighttpd, "-D", "-f", str(conf)], log=log)
        version = _first_line([lighttpd, "-v"]).split()[0]
        return proc, log, f"http://127.0.0.1:{port}", version


def run_main(prog: str, main: Callable[[], int]) -> NoReturn:
    """Exit with what a benchmark's ``main`` returns; 130, said on stderr, when a
    Ctrl-C or SIGTERM interrupted it (its :class:`Bench` has stopped everything by then)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)


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


def _lighttpd_conf(port: int, run_dir: Path, name: str, document_root: Path) -> str:
    """What every lighttpd of a run shares: loopback, a port, its files in the run directory."""
    return f"""\
server.bind = "127.0.0.1"
server.port = {port}
server.document-root = "{document_root}"
server.errorlog = "{run_dir / f'{name}-error.log'}"
server.pid-file = "{run_dir / f'{name}.pid'}"
server.upload-dirs = ("{run_dir}")
server.modules = ("mod_accesslog")
accesslog.filename = "{run_dir / f'{name}-access.log'}"
"""


def _http_backend_conf(backend: Path, project_root: Path, users: Path | None) -> str:
    # The CGI set-up of git-http-backend(1)'s lighttpd example. Responses
    # stream to the client as the CGI writes them (stream-response-body 1),
    # as they do through Heater, instead of being buffered whole first.
    # Pushes need a user, as in that page's examples: lighttpd asks for HTTP
    # Basic credentials on both requests of a push, and http-backend serves
    # receive-pack to an authenticated user (REMOTE_USER) by default.
    push = "" if users is None else f"""\
server.modules += ("mod_auth", "mod_authn_file")
auth.backend = "plain"
auth.backend.plain.userfile = "{users}"
$HTTP["querystring"] =~ "service=git-receive-pack" {{
    auth.require = ("" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
}}
$HTTP["url"] =~ "/git-receive-pack$" {{
    auth.require = ("" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
}}
"""
    return push + f"""\
server.modules += ("mod_alias", "mod_cgi", "mod_setenv")
server.stream-response-body = 1
server.stream-request-body = 1
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


def ensure_program(name: str, package: str | None = None) -> str:
    """The program ``name``, installed from Debian's ``package`` (default: the
    same name) with apt-get, after an update, if it is missing."""
    found = find_program(name)
    if found:
        return found
    package = package or name
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"{name} is not installed and apt-get is not available; "
                           f"install {package} and run again")
    print(f"installing {package} (apt-get) ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-q"], check=True, env=env, timeout=600,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends",
                    package], check=True, env=env, timeout=600, stdout=subprocess.DEVNULL)
    found = find_program(name)
    if not found:
        raise RuntimeError(f"{name} still not found after apt-get install {package}")
    return found


def find_program(name: str) -> str | None:
    # Debian puts servers in /usr/sbin, which a non-root PATH may lack.
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run git (by default in :func:`clean_git_env`); its output. Fails on an error."""
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True,
                          cwd=cwd, env=env or clean_git_env(), timeout=GIT_TIMEOUT).stdout


def _heater_cli() -> Path:
    return Path(sys.executable).with_name("heater")


def _first_line(argv: Sequence[str]) -> str:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    return (out.stdout or out.stderr).strip().splitlines()[0]


def git_version() -> str:
    return git("--version").strip()


def place_repository(source: Path, layout: Layout, repo: RepoId) -> Path:
    """Copy the bare repository ``source`` to where ``layout`` keeps ``repo``."""
    dest = layout.repository(repo)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, dest, symlinks=True)
    return dest
