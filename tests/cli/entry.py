"""The ``heater`` command run in this process through its entry function:
what a user would see, without the cost of starting Python."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from heater.cli.main import main


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _working_directory(path: Path | None) -> Iterator[None]:
    before = Path.cwd()
    if path is not None:
        os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def heater(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Ran:
    """``heater ARGS`` in ``cwd``, with no ``HEATER_*`` variable but those of ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HEATER_")}
    out, err = io.StringIO(), io.StringIO()
    with (mock.patch.dict(os.environ, {**environ, **(env or {})}, clear=True),
          _working_directory(cwd), contextlib.redirect_stdout(out),
          contextlib.redirect_stderr(err)):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refusing the command line
            code = exc.code if isinstance(exc.code, int) else 1
    return Ran(code, out.getvalue(), err.getvalue())
