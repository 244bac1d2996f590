"""Prometheus metrics. Every series carries a `service` label, so the embedded run (four services
in one process) and production (one per container) expose the same names. Under gunicorn with
several workers set PROMETHEUS_MULTIPROC_DIR: /metrics then aggregates all workers."""
from __future__ import annotations

import logging
import os
import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("ts_http_requests_total", "HTTP requests served", ["service", "method", "endpoint", "status"])
HTTP_LATENCY = Histogram("ts_http_request_duration_seconds", "HTTP request duration", ["service", "endpoint"])
EVENTS_PUBLISHED = Counter("ts_events_published_total", "Outbox events confirmed by the broker", ["service"])
RELAY_FAILURES = Counter("ts_relay_failures_total", "Failed publications of outbox events", ["service"])
EVENTS_CONSUMED = Counter(
    "ts_events_consumed_total", "Events received by a consumer, by outcome (applied, duplicate, failed, dead_lettered)",
    ["service", "event_type", "outcome"],
)


class _OutboxPendingCollector:
    """`ts_outbox_pending{service}`: events not yet confirmed, read from each outbox at scrape time."""

    def __init__(self):
        self._sources = {}
        self._lock = threading.Lock()

    def add(self, service: str, engine, outbox) -> None:
        with self._lock:
            self._sources[service] = (engine, outbox)

    def describe(self):
        return [GaugeMetricFamily("ts_outbox_pending", "Outbox events not yet published", labels=["service"])]

    def collect(self):
        from ts_shared.messaging.outbox import pending_count

        family = GaugeMetricFamily("ts_outbox_pending", "Outbox events not yet published", labels=["service"])
        with self._lock:
            sources = dict(self._sources)
        for service, (engine, outbox) in sorted(sources.items()):
            try:
                family.add_metric([service], pending_count(engine, outbox))
            except Exception as error:  # a scrape must not fail because one database is down
                log.warning("cannot count pending outbox rows of %s: %s", service, error)
        yield family


OUTBOX_PENDING = _OutboxPendingCollector()
REGISTRY.register(OUTBOX_PENDING)


def render_latest() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(OUTBOX_PENDING)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def serve_worker_metrics() -> None:
    """Workers and relays have no web app: expose their metrics on TS_METRICS_PORT if set."""
    port = os.environ.get("TS_METRICS_PORT")
    if port:
        start_http_server(int(port))
        log.info("metrics served on :%s/metrics", port)
