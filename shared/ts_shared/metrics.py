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
# Consumer lag: from the moment an event happened to the moment a consumer applied it.
EVENT_LAG = Histogram(
    "ts_event_lag_seconds", "Time from an event's occurrence to its application by a consumer",
    ["service"], buckets=(0.1, 0.5, 1, 2.5, 5, 15, 30, 60, 120, 300, 900, 3600),
)


class _OutboxPendingCollector:
    """`ts_outbox_pending{service}`: events not yet confirmed, and `ts_outbox_oldest_pending_seconds
    {service}`: the age of the oldest of them (0 when none), read from each outbox at scrape time."""

    def __init__(self):
        self._sources = {}
        self._lock = threading.Lock()

    def add(self, service: str, engine, outbox) -> None:
        with self._lock:
            self._sources[service] = (engine, outbox)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (GaugeMetricFamily("ts_outbox_pending", "Outbox events not yet published", labels=["service"]),
                GaugeMetricFamily("ts_outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox event",
                                  labels=["service"]))

    def describe(self):
        return list(self._families())

    def collect(self):
        from ts_shared.messaging.outbox import pending_summary

        pending, oldest = self._families()
        with self._lock:
            sources = dict(self._sources)
        for service, (engine, outbox) in sorted(sources.items()):
            try:
                count, age = pending_summary(engine, outbox)
            except Exception as error:  # a scrape must not fail because one database is down
                log.warning("cannot count pending outbox rows of %s: %s", service, error)
                continue
            pending.add_metric([service], count)
            oldest.add_metric([service], age)
        yield pending
        yield oldest


OUTBOX_PENDING = _OutboxPendingCollector()
REGISTRY.register(OUTBOX_PENDING)


class _QueueDepthCollector:
    """`ts_queue_messages{queue}` and `ts_queue_consumers{queue}`: a worker's queue and its
    dead-letter queue as the broker counts them (a passive declare at scrape time, on a connection
    of its own: the worker's is not thread-safe)."""

    def __init__(self):
        self._broker_url: str | None = None
        self._queues: list[str] = []

    def watch(self, broker_url: str, queues: list[str]) -> None:
        self._broker_url, self._queues = broker_url, list(queues)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (GaugeMetricFamily("ts_queue_messages", "Messages waiting in a queue (ready, not delivered)",
                                  labels=["queue"]),
                GaugeMetricFamily("ts_queue_consumers", "Consumers attached to a queue", labels=["queue"]))

    def describe(self):
        return list(self._families())

    def collect(self):
        messages, consumers = self._families()
        if self._broker_url and self._queues:
            from kombu import Connection

            try:
                with Connection(self._broker_url, connect_timeout=3) as connection:
                    channel = connection.channel()
                    for queue in self._queues:
                        _, count, attached = channel.queue_declare(queue=queue, passive=True)
                        messages.add_metric([queue], count)
                        consumers.add_metric([queue], attached)
            except Exception as error:  # the broker down: no figure rather than a failed scrape
                log.warning("cannot read the depth of %s: %s", ", ".join(self._queues), error)
        yield messages
        yield consumers


QUEUE_DEPTH = _QueueDepthCollector()
REGISTRY.register(QUEUE_DEPTH)


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
