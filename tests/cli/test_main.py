"""The command line as a user runs it."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
import requests

from heater.auth.sqlite import SqliteTokenStore
from heater.auth.tokens import Role
from heater.cli.main import bind_address, main
from tests.app_support import App
from tests.cli.entry import heater
from tests.conftest import Server
from tests.services.process import Service, free_port


def test_token_create_prints_secret_last(tmp_path: Path) -> None:
    done = heater("token", "create", "ci", "--role", "writer", "--namespace", "acme",
                  "--data-dir", str(tmp_path / "d"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    principal = SqliteTokenStore(tmp_path / "d" / "auth.sqlite").authenticate(secret)
    assert (principal.name, principal.role, principal.namespace) == ("ci", Role.WRITER, "acme")
    # Only a digest is stored.
    assert secret.encode() not in (tmp_path / "d" / "auth.sqlite").read_bytes()


def test_data_dir_from_option_then_environment_then_default(tmp_path: Path) -> None:
    heater("token", "create", "a", "--role", "reader", cwd=tmp_path,
           env={"HEATER_DATA_DIR": str(tmp_path / "from-env")})
    heater("token", "create", "b", "--role", "reader", cwd=tmp_path)
    heater("token", "create", "c", "--role", "reader", "--data-dir", str(tmp_path / "opt"),
           cwd=tmp_path, env={"HEATER_DATA_DIR": str(tmp_path / "from-env")})
    assert (tmp_path / "from-env" / "auth.sqlite").is_file()
    assert (tmp_path / "repos" / "auth.sqlite").is_file()
    assert (tmp_path / "opt" / "auth.sqlite").is_file()
    listed = heater("token", "list", "--data-dir", str(tmp_path / "opt"), cwd=tmp_path)
    assert listed.stdout.startswith("NAME\tROLE\tNAMESPACE\tCREATED\nc\treader\t*\t")
    assert listed.stderr == f"data directory: {tmp_path / 'opt'}\n"
    empty = heater("token", "list", "--data-dir", str(tmp_path / "none"), cwd=tmp_path)
    assert (empty.stdout, empty.stderr) == ("", f"data directory: {tmp_path / 'none'}\n"
                                                "no tokens\n")


def test_commands_that_read_a_data_directory_refuse_a_missing_one(tmp_path: Path) -> None:
    for command in ("reindex", "cleanup"):
        missing = heater(command, "--data-dir", str(tmp_path / "typo"), cwd=tmp_path)
        assert missing.returncode == 1
        assert missing.stderr == (f"heater: no data directory at {tmp_path / 'typo'}; give "
                                  "--data-dir or $HEATER_DATA_DIR (heater serve creates one)\n")
    assert not (tmp_path / "typo").exists()
    version = heater("--version", cwd=tmp_path)
    assert version.returncode == 0 and re.fullmatch(r"heater \d+\.\d+\.\d+\n", version.stdout)


def test_bad_token_requests_are_refused(tmp_path: Path) -> None:
    bad_role = heater("token", "create", "x", "--role", "owner", cwd=tmp_path)
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr
    bad_ns = heater("token", "create", "x", "--role", "reader", "--namespace", "../etc",
                    cwd=tmp_path)
    assert bad_ns.returncode == 1 and "invalid namespace" in bad_ns.stderr
    heater("token", "create", "dup", "--role", "reader", cwd=tmp_path)
    again = heater("token", "create", "dup", "--role", "reader", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_server_logs_one_line_per_request(server: Server) -> None:
    marker = "/healthz?probe=logline"
    requests.get(server.url + marker, timeout=10)
    deadline = time.monotonic() + 10  # the line is written after the response is sent
    lines: list[str] = []
    while not lines and time.monotonic() < deadline:
        time.sleep(0.05)
        lines = [line for line in server.log().splitlines() if marker in line]
    assert len(lines) == 1 and '" 200 ' in lines[0]


def test_cleanup_names_what_it_removed(tmp_path: Path) -> None:
    data = tmp_path / "d"
    heater("token", "create", "a", "--role", "reader", "--data-dir", str(data), cwd=tmp_path)
    leftover = data / "tmp" / "create-0123.git"
    leftover.mkdir(parents=True)
    done = heater("cleanup", "--older-than", "0", "--data-dir", str(data), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["removed 1 leftovers of finished or interrupted work:",
                                        "  tmp/create-0123.git"]
    assert not leftover.exists()
    again = heater("cleanup", "--older-than", "0", "--data-dir", str(data), cwd=tmp_path)
    assert again.stderr.splitlines() == ["removed 0 leftovers of finished or interrupted work"]


def test_token_commands_create_only_the_token_store(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d"
    assert main(["token", "list", "--data-dir", str(data)]) == 0
    assert main(["token", "create", "ci", "--role", "reader", "--data-dir", str(data)]) == 0
    assert main(["token", "revoke", "ci", "--data-dir", str(data)]) == 0
    assert main(["token", "list", "--data-dir", str(data)]) == 0
    assert sorted(p.name for p in data.iterdir()) == ["auth.sqlite"]
    capsys.readouterr()


def test_unknown_backend_stops_a_command(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEATER_BLOBS", "ceph")
    assert main(["token", "list", "--data-dir", str(tmp_path / "d")]) == 1
    assert capsys.readouterr().err == (
        "heater: $HEATER_BLOBS: unknown blobs backend 'ceph'; allowed: filesystem, swift, s3\n")
    assert not (tmp_path / "d").exists()


def test_an_object_store_without_credentials_stops_a_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEATER_BLOBS", "s3")
    monkeypatch.setenv("HEATER_S3_ACCESS_KEY", "heater")
    assert main(["token", "list", "--data-dir", str(tmp_path / "d")]) == 1
    assert capsys.readouterr().err == (
        "heater: settings: blobs s3 needs s3_secret_key ($HEATER_S3_SECRET_KEY)\n")
    assert not (tmp_path / "d").exists()


def test_config_file_names_the_data_directory(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEATER_DATA_DIR", raising=False)
    (tmp_path / "heater.toml").write_text('data_dir = "from-file"\n')
    assert main(["token", "create", "ci", "--role", "reader",
                 "--config", str(tmp_path / "heater.toml")]) == 0
    assert (tmp_path / "from-file" / "auth.sqlite").is_file()
    capsys.readouterr()


def test_bind_takes_a_port_alone_and_refuses_what_is_no_address(tmp_path: Path) -> None:
    assert [bind_address(text) for text in ("8080", "0.0.0.0:80", "[::1]:8080",
                                            "unix:/run/heater.sock")] == [
        "127.0.0.1:8080", "0.0.0.0:80", "[::1]:8080", "unix:/run/heater.sock"]
    for text in ("localhost", "127.0.0.1:", ":8080", "127.0.0.1:99999", "a b:80"):
        refused = heater("serve", "--bind", text, "--data-dir", str(tmp_path / "d"),
                         cwd=tmp_path)
        assert refused.returncode == 2, text
        assert f"argument --bind: {text!r} is not HOST:PORT or PORT" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.e2e
def test_serve_on_a_port_alone(tmp_path: Path) -> None:
    port = free_port()
    service = Service("heater", [sys.executable, "-m", "heater", "serve", "--bind", str(port),
                                 "--workers", "1", "--data-dir", str(tmp_path / "d")],
                      tmp_path / "serve.log")
    try:
        service.wait_ready(lambda: requests.get(f"http://127.0.0.1:{port}/healthz",
                                                timeout=2).status_code == 200)
    finally:
        service.stop()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self, total: int) -> None:
        self.calls.append(f"start {total}")

    def read(self) -> None:
        self.calls.append("read")


def test_reindex_reports_its_progress(tmp_path: Path) -> None:
    app = App.start(tmp_path / "d")
    token = app.token(Role.WRITER)
    app.template(token, "acme/one")
    app.template(token, "acme/two")
    recorder = Recorder()
    catalog = app.app.extensions["heater_catalog"]
    assert catalog.rebuild(processes=1, progress=recorder) == 2
    assert recorder.calls == ["start 2", "read", "read"]
    done = heater("reindex", "--data-dir", str(tmp_path / "d"), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "catalog index rebuilt from 2 repositories\n")
