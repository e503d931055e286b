"""Prometheus metrics, shared by every worker of a server.

Under ``heater serve`` each gunicorn worker writes its samples to files in
``$PROMETHEUS_MULTIPROC_DIR`` (see :func:`heater.cli.serve.serve`) and a
scrape adds them up. prometheus_client picks its storage when it is first
imported, so it is imported here only when a metric is first used, which is
after ``heater serve`` has named that directory; nothing else in Heater may
import it earlier.

Labels take values from small fixed sets (route templates, services, reason
classes, outcomes), never from a path, name or ref: the number of series
stays bounded whatever clients send.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heater.errors import Unavailable

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# From a health check to a clone of a large repository.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Every metric Heater exports (built once per process by :func:`metrics`)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.requests: Counter = Counter(
            "heater_http_requests", "HTTP requests answered, by route template and status",
            ["method", "route", "status"])
        self.latency: Histogram = Histogram(
            "heater_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response body",
            ["method", "route"], buckets=LATENCY_BUCKETS)
        self.pushes: Counter = Counter(
            "heater_git_pushes", "git pushes, by outcome (accepted, refused, failed)",
            ["outcome"])
        self.fetches: Counter = Counter(
            "heater_git_fetches", "git clones and fetches (reference advertisements served)")
        self.push_refusals: Counter = Counter(
            "heater_git_push_refusals", "pushes the pre-receive hook refused, by reason class",
            ["reason"])
        self.uploads: Counter = Counter(
            "heater_image_uploads", "image build uploads, by outcome (stored, failed)",
            ["outcome"])
        self.upload_bytes: Counter = Counter(
            "heater_image_upload_bytes", "bytes of image builds stored")
        self.index_refresh: Histogram = Histogram(
            "heater_index_refresh_seconds", "Time the catalog index takes to re-read a repository",
            buckets=LATENCY_BUCKETS)
        self.index_lag: Histogram = Histogram(
            "heater_index_lag_seconds",
            "Time from the start of a write to the index knowing of it",
            buckets=LATENCY_BUCKETS)
        self.blob_errors: Counter = Counter(
            "heater_blob_store_errors", "image blob store operations that failed unexpectedly",
            ["operation"])


_created: list[Metrics] = []
_creating = threading.Lock()


def metrics() -> Metrics:
    """This process's metrics (created on first use; the first requests of
    a worker's threads may ask at once, and a metric registers only once)."""
    if not _created:
        with _creating:
            if not _created:
                _created.append(Metrics())
    return _created[0]


def exposition(pending_dir: Path) -> bytes:
    """The text a scrape of ``/metrics`` returns: every worker's samples,
    and the pending-change markers of ``pending_dir`` counted now."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

    metrics()  # every family shows, at zero, before its first event
    if os.environ.get(MULTIPROC_ENV):
        registry: CollectorRegistry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    return text + _pending_markers(pending_dir)


def _pending_markers(pending_dir: Path) -> bytes:
    """The gauge of writes whose index update is outstanding. Read from disk
    at scrape time rather than kept by the workers: a marker a dead process
    left is exactly what it must show."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    class Pending:
        def collect(self) -> Iterator[Any]:
            count = sum(1 for _ in pending_dir.iterdir()) if pending_dir.is_dir() else 0
            yield GaugeMetricFamily(
                "heater_pending_changes",
                "writes not yet told to the index (markers on disk; replayed by the workers)",
                value=count)

    registry = CollectorRegistry()
    registry.register(Pending())
    return generate_latest(registry)


def process_exited(pid: int) -> None:
    """Forget a dead worker's live gauges (gunicorn's ``child_exit`` hook)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


@contextmanager
def blob_errors(operation: str) -> Iterator[None]:
    """Count an unexpected failure (an OSError: disk, network; an object
    store's refusal) of the blob store during ``operation`` (read, write,
    delete), and let it raise."""
    try:
        yield
    except (OSError, Unavailable):
        metrics().blob_errors.labels(operation).inc()
        raise
