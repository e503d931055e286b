"""Running the stock ``git`` binary with a controlled environment.

Every git process Heater starts goes through :func:`git_argv` and
:func:`git_env`: no system or global configuration is read, git never
prompts, ``safe.directory`` names only the repository at hand, and the
server-side settings below are forced on the command line so that a
repository's own config cannot weaken them.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

GIT = "git"

# Settings every served repository gets, whatever its config says.
HARDENED_CONFIG: tuple[tuple[str, str], ...] = (
    # Verify every pushed object; a corrupt or malicious pack is refused whole.
    ("receive.fsckObjects", "true"),
    ("transfer.fsckObjects", "true"),
    # Partial clones (--filter=blob:none) and their lazy fetch of blobs; wants
    # are limited to reachable objects, never any SHA the server has.
    ("uploadpack.allowFilter", "true"),
    ("uploadpack.allowAnySHA1InWant", "false"),
    ("uploadpack.allowReachableSHA1InWant", "true"),
    # Protocol v2 ignores the two above; heater.git.wants checks its wants.
    # Newer gits advertise object-info only on request; 2.39 always does,
    # and the same module refuses it.
    ("uploadpack.allowRefInWant", "false"),
    ("transfer.advertiseObjectInfo", "false"),
    # Housekeeping is scheduled by the operator, never run inside a request.
    ("gc.auto", "0"),
    ("receive.autogc", "false"),
    ("maintenance.auto", "false"),
    # Histories are append-only; pre-receive adds the finer rules.
    ("receive.denyNonFastForwards", "true"),
    ("receive.denyCurrentBranch", "refuse"),
    ("core.logAllRefUpdates", "true"),
    ("receive.advertisePushOptions", "false"),
    # Keep every pushed pack whole in the quarantine (index-pack), where
    # unpack-objects would drop the objects the repository already holds:
    # heater.push.connectivity must see all that a push brought, so that a
    # branch that was deleted can be pushed again and a hidden object cannot
    # be borrowed without being sent.
    ("receive.unpackLimit", "1"),
    ("transfer.unpackLimit", "1"),
    # Heater's own bookkeeping refs (lifecycle state) are neither advertised
    # to clients nor writable by a push.
    ("transfer.hideRefs", "refs/heater/"),
)

# "version=2", optionally followed by more key[=value] items separated by ':'
# (gitprotocol-http); anything else is dropped rather than passed to git.
_GIT_PROTOCOL_ITEM = r"[A-Za-z0-9._-]+(=[A-Za-z0-9._-]+)?"
_GIT_PROTOCOL_RE = re.compile(rf"^{_GIT_PROTOCOL_ITEM}(:{_GIT_PROTOCOL_ITEM})*$")
MAX_GIT_PROTOCOL_LENGTH = 256

_ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")


def well_formed_git_protocol(value: str | None) -> str | None:
    """The ``Git-Protocol`` header value if it is well formed, else ``None``."""
    if not value or len(value) > MAX_GIT_PROTOCOL_LENGTH:
        return None
    return value if _GIT_PROTOCOL_RE.match(value) else None


def git_env(extra: Mapping[str, str] | None = None,
            git_protocol: str | None = None) -> dict[str, str]:
    """A minimal environment for git: nothing inherited that could change it."""
    env = {k: os.environ[k] for k in _ENV_PASSTHROUGH if k in os.environ}
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "HOME": os.devnull,
        "GIT_NO_REPLACE_OBJECTS": "1",
    })
    protocol = well_formed_git_protocol(git_protocol)
    if protocol:
        env["GIT_PROTOCOL"] = protocol
    if extra:
        env.update(extra)
    return env


def git_argv(repo_path: Path, args: Sequence[str], *,
             hooks_path: Path | None = None) -> list[str]:
    """``git -c ... <args>`` for one repository, hardened.

    ``repo_path`` is absolute, so it can never be read as an option.
    """
    if not repo_path.is_absolute():
        raise ValueError("repository path must be absolute")
    argv = [GIT, "-c", f"safe.directory={repo_path}"]
    for key, value in HARDENED_CONFIG:
        argv += ["-c", f"{key}={value}"]
    if hooks_path is not None:
        argv += ["-c", f"core.hooksPath={hooks_path}"]
    argv += list(args)
    return argv


class GitFailed(RuntimeError):
    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"git exited {returncode}: {stderr.strip()}")
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr


def run_git(repo_path: Path, args: Sequence[str], *, input: bytes | None = None,
            env: Mapping[str, str] | None = None, timeout: float = 120) -> bytes:
    """Run a short git command in ``repo_path`` and return its stdout."""
    argv = git_argv(repo_path, ["-C", str(repo_path), *args])
    proc = subprocess.run(argv, input=input, capture_output=True, env=git_env(env),
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        raise GitFailed(argv, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.stdout
