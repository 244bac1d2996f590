"""How a process of the platform starts: a web app under gunicorn, a consumer worker, an outbox
relay. The same functions serve production (one per container) and the embedded run (all in one
process, each in a thread)."""
from __future__ import annotations

import logging
import signal
import threading
import time
from functools import cached_property

from ts_shared.config import Settings
from ts_shared.logging import configure_logging
from ts_shared.messaging.consumer import Worker
from ts_shared.service import ServiceRuntime, ServiceSpec, all_subscriptions, discover_services, load_service
from ts_shared.setup_lock import setup_lock

log = logging.getLogger(__name__)


class Platform:
    """The settings and the services of this installation, with one runtime per service."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._runtimes: dict[str, ServiceRuntime] = {}

    @cached_property
    def specs(self) -> dict[str, ServiceSpec]:
        return discover_services()

    def spec(self, name: str) -> ServiceSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise LookupError(f"unknown service {name!r}; known: {', '.join(self.specs)}") from None

    def runtime(self, name: str) -> ServiceRuntime:
        if name not in self._runtimes:
            runtime = ServiceRuntime(self.spec(name), self.settings)
            if self.settings.embedded:
                # Embedded databases are always brought up to date (production: `tsctl db upgrade`).
                with setup_lock(self.settings.data_dir):
                    runtime.migrate()
            self._runtimes[name] = runtime
        return self._runtimes[name]

    def dispose(self) -> None:
        for runtime in self._runtimes.values():
            runtime.dispose()


def service_wsgi_app(name: str):
    """The WSGI app of one service, configured from the environment (gunicorn entry points). Only
    this service is loaded, with one engine for the process."""
    settings = Settings.from_env()
    configure_logging(name, settings.log_level, settings.log_format)
    runtime = ServiceRuntime(load_service(name), settings)
    if settings.embedded:
        with setup_lock(settings.data_dir):  # brought up to date, one worker at a time
            runtime.migrate()
    return runtime.spec.create_app(runtime)


def build_worker(platform: Platform, name: str) -> Worker:
    runtime = platform.runtime(name)
    return Worker(broker_url=platform.settings.broker_url, consumers=[runtime.consumer()],
                  topology=all_subscriptions())


def _stop_on_signals(stop) -> None:
    def handler(signum, _frame):
        log.info("signal %s received: stopping", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_worker_forever(platform: Platform, name: str) -> None:
    """`tsctl worker NAME`: consume the service's queue until SIGTERM/SIGINT."""
    worker = build_worker(platform, name)
    _stop_on_signals(worker.stop)
    queues = ", ".join(consumer.subscription.queue for consumer in worker.consumers)
    log.info("worker for %s consuming %s", name, queues)
    worker.run()


def run_relay_forever(platform: Platform, name: str) -> None:
    """`tsctl relay NAME`: publish the service's outbox until SIGTERM/SIGINT."""
    stop = threading.Event()
    _stop_on_signals(stop.set)
    platform.runtime(name).relay().run(stop, poll_seconds=platform.settings.relay_poll_seconds)


def run_jobs(platform: Platform, name: str, stop: threading.Event, *, first_delay: float = 0.0) -> None:
    """Run a service's periodic jobs until `stop` is set (`tsctl jobs NAME`, and a thread of the
    embedded run). A failing job is logged and tried again at its next turn."""
    runtime = platform.runtime(name)
    jobs = platform.spec(name).jobs
    due = {job.name: time.monotonic() + first_delay for job in jobs}
    while not stop.is_set():
        for job in jobs:
            if time.monotonic() >= due[job.name]:
                try:
                    log.info("job %s.%s: %s", name, job.name, job.run(runtime))
                except Exception:
                    log.exception("job %s.%s failed", name, job.name)
                due[job.name] = time.monotonic() + job.every_seconds
        stop.wait(min(max(min(due.values()) - time.monotonic(), 0.1), 60) if due else 60)


def run_jobs_forever(platform: Platform, name: str) -> None:
    stop = threading.Event()
    _stop_on_signals(stop.set)
    run_jobs(platform, name, stop)
