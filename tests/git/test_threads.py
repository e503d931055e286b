"""Helper threads: work starts at once, even when every pooled thread is busy."""

from __future__ import annotations

import threading

import pytest

from heater.git import threads


def test_work_never_waits_for_a_free_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "POOLED", 2)
    monkeypatch.setattr(threads, "_pool", None)  # a pool of the patched size
    # Four tasks that can only finish once all four run at the same time.
    everyone = threading.Barrier(4, timeout=10)

    def meet() -> None:
        everyone.wait()

    tasks = [threads.submit(meet, f"t{i}") for i in range(4)]
    for task in tasks:
        assert task.result(timeout=20) is None
    assert threads._running == 0


def test_a_failure_reaches_the_future() -> None:
    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        threads.submit(fail, "failing").result(timeout=10)
