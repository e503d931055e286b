"""Threads that help a request along (feeding git its input, draining its
stderr, answering its pre-receive hook), kept from one request to the next.

``Thread.start()`` waits until the new thread has run; with the GIL busy
that handshake cost a push 1 to 3 ms per thread, and a push needs three. An
idle pooled thread takes work from a queue instead. Such work must never
wait for a free thread (a feeder that waited would stall git, and the
request with it), so past ``POOLED`` tasks at once each gets a thread of its
own, as before.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

# A gunicorn worker's 16 request threads, each with a git process and its
# three helpers, fit with room to spare.
POOLED = 64

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_running = 0


def submit(work: Callable[[], None], name: str) -> Future[None]:
    """Run ``work`` on a helper thread now; the future ends with it."""
    global _pool, _pool_pid, _running
    with _lock:
        if _pool is None or _pool_pid != os.getpid():  # none yet, or forked
            _pool = ThreadPoolExecutor(max_workers=POOLED, thread_name_prefix="heater-helper")
            _pool_pid, _running = os.getpid(), 0
        pool = _pool
        pooled = _running < POOLED
        if pooled:
            _running += 1
    if pooled:
        future = pool.submit(_counted, work)
    else:
        future = Future()
        threading.Thread(target=_into, args=(work, future), name=name, daemon=True).start()
    return future


def _counted(work: Callable[[], None]) -> None:
    global _running
    try:
        work()
    finally:
        with _lock:
            _running -= 1


def _into(work: Callable[[], None], future: Future[None]) -> None:
    try:
        work()
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(None)
