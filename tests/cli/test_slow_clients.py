"""Slow clients against ``heater serve``: connections that trickle their
headers wait in the workers' event loop, not in threads, so everyone else is
served; a head that is not complete by the deadline gets 408 and is closed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from heater.cli.worker import HEADER_TIMEOUT
from tests.conftest import Server, start_server, stop_server

SLOW_CONNECTIONS = 200  # many times the threads of the one worker below
PIPELINED = 20  # more than its threads too
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
HEALTHZ_BOUND = 3.0  # seconds: generous for a shared machine; a stalled server never answers


@pytest.fixture
def lone_server(tmp_path: Path) -> Iterator[Server]:
    # One worker of 16 threads: stock gthread stalls behind 16 slow clients.
    server = start_server(tmp_path / "data", tmp_path / "server.log", workers=1)
    yield server
    stop_server(server)


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _read_until_closed(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_slow_headers_hold_no_thread_and_time_out_with_408(lone_server: Server) -> None:
    port = _port(lone_server)
    opened = time.monotonic()
    slow = [socket.create_connection(("127.0.0.1", port), timeout=10)
            for _ in range(SLOW_CONNECTIONS)]
    # A few send a whole request first, then trickle the next one behind it.
    pipelined = slow[-PIPELINED:]
    for sock in slow:
        first = HEALTHZ if sock in pipelined else b""
        sock.sendall(first + b"GET /healthz HTTP/1.1\r\nHost: test\r\n")

    # While every slow client trickles a header line a second, others are served.
    line = 0
    while time.monotonic() - opened < HEADER_TIMEOUT - 2:
        for sock in slow:
            sock.sendall(f"X-Slow-{line}: x\r\n".encode())
        line += 1
        started = time.monotonic()
        answer = requests.get(f"{lone_server.url}/healthz", timeout=HEALTHZ_BOUND)
        assert answer.status_code == 200
        assert time.monotonic() - started < HEALTHZ_BOUND
        time.sleep(max(0.0, 1 - (time.monotonic() - started)))

    # A slow client that does finish its head in time is served normally.
    slow[0].sendall(b"Connection: close\r\n\r\n")
    assert _read_until_closed(slow[0]).startswith(b"HTTP/1.1 200 ")

    # The others never finish: each gets 408 with Heater's error body, then
    # EOF; the pipelined ones after the answer to their first request.
    for sock in slow[1:]:
        received = _read_until_closed(sock)
        if sock in pipelined:
            assert received.startswith(b"HTTP/1.1 200 ")
            received = received[received.index(b"HTTP/1.1 408 "):]
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert json.loads(body)["error"]["code"] == "request_timeout"
    took = time.monotonic() - opened
    assert HEADER_TIMEOUT - 1 <= took <= HEADER_TIMEOUT + 5
    for sock in slow:
        sock.close()
    assert requests.get(f"{lone_server.url}/healthz", timeout=HEALTHZ_BOUND).status_code == 200


def test_oversized_head_is_refused_with_431(lone_server: Server) -> None:
    with socket.create_connection(("127.0.0.1", _port(lone_server)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n"
                     + b"".join(f"X-Big-{n}: {'x' * 1000}\r\n".encode() for n in range(66)))
        head, _, body = _read_until_closed(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["error"]["code"] == "headers_too_large"


def test_kept_alive_connection_serves_requests_in_turn(lone_server: Server) -> None:
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(f"{lone_server.url}/healthz", timeout=10).status_code == 200


def test_open_files_limit_is_raised_up_to_the_hard_limit() -> None:
    # In a child process: the limit of the test process itself stays as it is.
    script = (
        "import resource\n"
        "from heater.cli.worker import raise_open_files_limit\n"
        "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(raise_open_files_limit(1000), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
        "print(raise_open_files_limit(100), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
        "print(hard == resource.RLIM_INFINITY or raise_open_files_limit(hard + 1) == hard)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split("\n")
    assert out[:3] == ["1000 1000", "1000 1000", "True"]
