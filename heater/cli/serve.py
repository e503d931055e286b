"""``heater serve``: the application under gunicorn with gthread workers.

gthread workers answer the arbiter's heartbeat from their main loop while
requests run in worker threads, so a clone that streams for minutes is never
taken for a hung worker; ``timeout`` only catches a worker whose main loop
is stuck. Heater's subclass (:mod:`heater.cli.worker`) also reads request
headers in that loop, so slow clients wait there and not in threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import sys
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from heater.cli.worker import WORKER_CONNECTIONS, raise_open_files_limit
from heater.config import Config
from heater.observe.metrics import MULTIPROC_ENV, process_exited
from heater.wiring import (
    build_catalog,
    build_registry,
    clean_up,
    prepare_to_serve,
    replay_in_background,
)

# Requests a worker runs at once; git does the heavy work in its own
# processes, so threads mostly wait on pipes and sockets.
THREADS_PER_WORKER = 16
# Descriptors a worker needs beside its client connections: git's pipes,
# repository and SQLite files.
SPARE_FILES = 1024
# When the request began, the client, the authenticated token's name ("-"
# when anonymous; see heater.http.credentials.TOKEN_NAME_ENV), the request
# line, status, bytes sent, time taken and user agent.
ACCESS_LOG_FORMAT = '%(t)s %(h)s %({heater.token}e)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


def default_workers() -> int:
    """Worker processes when ``--workers`` is not given: cores + 1, at most 4."""
    return min(4, (os.cpu_count() or 1) + 1)


WORKER_READY = "worker ready"


def worker_ready(worker: Any) -> None:
    """Log that a worker has loaded the application (and so has caught up
    what a dead worker left unindexed) and takes requests."""
    worker.log.info("%s: pid %s", WORKER_READY, worker.pid)


def worker_exited(_arbiter: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the metrics (its counters stay:
    the totals must not go down when a worker is replaced)."""
    process_exited(worker.pid)


class HeaterServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, config: Config, bind: str, workers: int,
                 threads: int = THREADS_PER_WORKER) -> None:
        self.config = config
        self.options: dict[str, Any] = {
            "bind": bind,
            "workers": workers,
            "worker_class": "heater.cli.worker.HeaderReadingWorker",
            "threads": threads,
            "worker_connections": WORKER_CONNECTIONS,
            "timeout": 120,
            "graceful_timeout": 30,
            "keepalive": 5,
            "accesslog": "-",
            "errorlog": "-",
            "access_log_format": ACCESS_LOG_FORMAT,
            "loglevel": "info",
            # Headers are small for every client Heater serves; refusing
            # larger ones early bounds the memory a request can take.
            "limit_request_field_size": 16384,
            "limit_request_fields": 100,
            # gunicorn >= 25 opens a control socket shared by every server of
            # the user (~/.gunicorn/gunicorn.ctl); several Heater instances on
            # one host must not fight over it, and Heater does not use it.
            "control_socket_disable": True,
            "post_worker_init": worker_ready,
            "child_exit": worker_exited,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # older gunicorn lacks some settings
                self.cfg.set(key, value)

    def load(self) -> Any:
        from heater.http.app import create_app

        app = create_app({"HEATER_SETTINGS": self.config})
        replay_in_background(app.extensions["heater"], self.config.pending_replay_seconds)
        return app


def serve(config: Config, bind: str, workers: int) -> None:
    # Workers write their metric samples here for /metrics to add up. One
    # directory per run, of this node alone: samples of an earlier run (or
    # another node) must not be counted. Named before prometheus_client is
    # first imported, which reads it then (heater.observe.metrics).
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its directory was set")
    metrics_dir = tempfile.mkdtemp(prefix="heater-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    try:
        _serve(config, bind, workers)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


# Blocks of at least this size come from mmap, and freeing one gives the
# memory back. Image chunks and parts pass through workers by the megabyte;
# with glibc's default, the threshold rises to the largest block ever freed
# and such blocks stay on the heaps of the threads that used them, so a
# worker's memory would grow with each upload instead of staying flat.
MMAP_THRESHOLD = 256 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def give_back_large_blocks() -> None:
    """Fix glibc's mmap threshold (workers inherit it); nothing elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):  # not glibc
        pass


def _serve(config: Config, bind: str, workers: int) -> None:
    give_back_large_blocks()
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Each waiting client holds a descriptor; workers inherit the limit.
    limit = raise_open_files_limit(WORKER_CONNECTIONS + SPARE_FILES)
    if limit < WORKER_CONNECTIONS + SPARE_FILES:
        logging.getLogger(__name__).warning(
            "open files limited to %d (ulimit -n): fewer than %d clients can wait at once",
            limit, WORKER_CONNECTIONS)
    registry = build_registry(config)
    prepare_to_serve(registry)  # once, before workers race to
    clean_up(registry)  # what a previous run's crash left behind
    # A missing index is rebuilt once here rather than by every worker.
    build_catalog(registry, config).ensure_built()
    if "heater.pgdb" in sys.modules:
        from heater.pgdb import close_all

        close_all()  # workers make their own pools: connections must not cross fork()
    HeaterServer(config, bind, workers).run()
