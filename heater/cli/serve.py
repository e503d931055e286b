"""``heater serve``: the application under gunicorn with gthread workers.

gthread workers answer the arbiter's heartbeat from their main loop while
requests run in worker threads, so a clone that streams for minutes is never
taken for a hung worker; ``timeout`` only catches a worker whose main loop
is stuck.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from heater.catalog import open_catalog
from heater.cli.cleanup import sweep
from heater.registry import Registry

# Requests a worker runs at once; git does the heavy work in its own
# processes, so threads mostly wait on pipes and sockets.
THREADS_PER_WORKER = 16
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


def default_workers() -> int:
    """Worker processes when ``--workers`` is not given: cores + 1, at most 4."""
    return min(4, (os.cpu_count() or 1) + 1)


WORKER_READY = "worker ready"


def worker_ready(worker: Any) -> None:
    """Log that a worker has loaded the application (and so has caught up
    what a dead worker left unindexed) and takes requests."""
    worker.log.info("%s: pid %s", WORKER_READY, worker.pid)


class HeaterServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, data_dir: Path, bind: str, workers: int,
                 threads: int = THREADS_PER_WORKER) -> None:
        self.data_dir = data_dir
        self.options: dict[str, Any] = {
            "bind": bind,
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
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
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # older gunicorn lacks some settings
                self.cfg.set(key, value)

    def load(self) -> Any:
        from heater.http.app import create_app

        return create_app({"DATA_DIR": str(self.data_dir)})


def serve(data_dir: Path, bind: str, workers: int) -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    registry = Registry(data_dir)  # create the layout once, before workers race to
    sweep(registry.layout)  # what a previous run's crash left behind
    # A missing index is rebuilt once here rather than by every worker.
    open_catalog(registry.repos).ensure_built()
    HeaterServer(data_dir, bind, workers).run()
