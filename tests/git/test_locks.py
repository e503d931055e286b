"""File locks: one holder at a time, a bounded wait, a typed error that
names the file and the time waited."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from heater.git import locks


def test_a_held_lock_refuses_a_second_holder_until_released(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    first = locks.acquire(path, 0)
    with pytest.raises(locks.LockTimeout) as caught:
        locks.acquire(path, 0)
    assert caught.value.path == path
    assert caught.value.waited < 1
    assert caught.value.code == "unavailable"
    first.release()
    first.release()  # idempotent
    with locks.acquire(path, 0):
        pass


def test_the_wait_is_bounded_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with locks.acquire(path, 0):
        started = time.monotonic()
        with pytest.raises(locks.LockTimeout) as caught:
            locks.acquire(path, 0.3)
        assert 0.3 <= caught.value.waited <= time.monotonic() - started
        assert caught.value.waited < 5
        assert "x.lock" in caught.value.message


def test_a_waiter_gets_the_lock_once_it_is_released(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    held = locks.acquire(path, 0)
    threading.Timer(0.2, held.release).start()
    with locks.acquire(path, 10):
        pass


def test_cancelling_ends_the_wait_early(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    cancelled = threading.Event()
    with locks.acquire(path, 0):
        threading.Timer(0.2, cancelled.set).start()
        started = time.monotonic()
        with pytest.raises(locks.LockTimeout):
            locks.acquire(path, 30, cancelled)
        assert time.monotonic() - started < 10


def test_a_dead_holder_never_blocks(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder = ("import sys; from pathlib import Path; from heater.git import locks; "
              "locks.acquire(Path(sys.argv[1]), 0); print('held', flush=True); "
              "sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", holder, str(path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    with pytest.raises(locks.LockTimeout):
        locks.acquire(path, 0)
    proc.kill()
    proc.wait(timeout=30)
    with locks.acquire(path, 0):
        pass
