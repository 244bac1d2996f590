"""`make run` / `tsctl run`: the whole system in one process, on one port.

Every service's database is a SQLite file in the data folder, migrated at start; the broker is
kombu's in-memory transport (so relays and consumers live in this process, one thread each);
an SMTP sink keeps emails on disk and shows them at /dev/mail. The in-process gateway routes
exactly as nginx does in production. The accounts internal API listens on a second, private
loopback port, as it would on the internal network.

Ctrl-C stops it cleanly: the servers stop taking requests, the relays publish what is left in
the outboxes, the consumers drain their queues, then everything closes.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from kombu import Connection
from werkzeug.serving import BaseWSGIServer, make_server

from ts_shared.config import Settings, SmtpSettings
from ts_shared.messaging.bus import queue_for
from ts_shared.runtime.gateway import Gateway
from ts_shared.runtime.mail_sink import MailSink, mail_viewer_app
from ts_shared.runtime.process import Platform, build_worker, run_jobs
from ts_shared.service import all_subscriptions

log = logging.getLogger(__name__)


@dataclass
class EmbeddedSystem:
    platform: Platform
    gateway_server: BaseWSGIServer
    internal_server: BaseWSGIServer
    mail_sink: MailSink
    stop_relays: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    workers: list = field(default_factory=list)
    relays: list = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.gateway_server.host}:{self.gateway_server.port}"

    def _thread(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def start(self) -> None:
        for worker in self.workers:
            self._thread(f"worker-{worker.consumers[0].service}", worker.run)
        for relay in self.relays:
            self._thread(f"relay-{relay.service}", lambda relay=relay: relay.run(
                self.stop_relays, poll_seconds=self.platform.settings.relay_poll_seconds))
        for name, spec in self.platform.specs.items():
            if spec.jobs:
                self._thread(f"jobs-{name}", lambda name=name: run_jobs(self.platform, name, self.stop_relays,
                                                                         first_delay=60))
        self._thread("internal-api", self.internal_server.serve_forever)
        self._thread("gateway", self.gateway_server.serve_forever)

    def queued_messages(self) -> int:
        """Messages waiting in the in-memory queues."""
        total = 0
        with Connection(self.platform.settings.broker_url) as connection:
            channel = connection.default_channel
            for subscription in all_subscriptions():
                queue = queue_for(subscription, self.platform.settings.broker_url)
                total += queue(channel).queue_declare(passive=True).message_count
        return total

    def stop(self, drain_seconds: float = 15.0) -> None:
        self.gateway_server.shutdown()
        self.internal_server.shutdown()
        for relay in self.relays:  # a last pass: nothing committed stays behind
            try:
                relay.publish_pending()
            except Exception as error:
                log.warning("final outbox pass of %s failed: %s", relay.service, error)
        self.stop_relays.set()
        deadline = time.monotonic() + drain_seconds
        while self.queued_messages() and time.monotonic() < deadline:
            time.sleep(0.1)
        for worker in self.workers:
            worker.stop()
        for thread in self.threads:
            thread.join(timeout=10)
        self.mail_sink.stop()
        self.platform.dispose()


class PortInUse(OSError):
    pass


def _starting(environ, start_response):
    """What the bound server answers until the system's gateway is set on it."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "1")])
    return ["Téléservices démarre, réessayez dans un instant.".encode()]


def _bind(host: str, port: int) -> BaseWSGIServer:
    """Bind a threaded server now (its app is set later), so that a busy port fails fast with a
    clear error, before anything is migrated or started."""
    try:
        return make_server(host, port, _starting, threaded=True)
    except SystemExit:  # werkzeug prints its own message and exits when the port is taken
        raise PortInUse(f"{host}:{port} is already in use") from None


def build_embedded_system(settings: Settings, *, host: str = "127.0.0.1", port: int | None = None,
                          seed_demo: bool = True) -> EmbeddedSystem:
    if not settings.embedded:
        raise RuntimeError("the embedded run refuses TS_MODE=production (it seeds demo data)")
    gateway_server = _bind(host, settings.port if port is None else port)
    internal_server = _bind("127.0.0.1", 0)
    mail_sink = MailSink(settings.data_dir / "mail")
    settings = settings.with_overrides(
        smtp=SmtpSettings(host="127.0.0.1", port=mail_sink.port, sender=settings.smtp.sender),
        accounts_internal_url=f"http://127.0.0.1:{internal_server.server_address[1]}",
    )
    platform = Platform(settings)
    credentials: list[str] = []
    for name, spec in platform.specs.items():
        runtime = platform.runtime(name)  # migrated on first use (embedded mode)
        if seed_demo and spec.seed_demo is not None:
            credentials += spec.seed_demo(runtime)
    apps = {name: spec.create_app(platform.runtime(name)) for name, spec in platform.specs.items()}
    gateway_server.app = Gateway(apps, extra={"/dev/mail": mail_viewer_app(settings.data_dir / "mail")})
    internal_server.app = apps["accounts"]
    mail_sink.start()
    system = EmbeddedSystem(platform=platform, gateway_server=gateway_server, internal_server=internal_server,
                            mail_sink=mail_sink, credentials=credentials)
    system.workers = [build_worker(platform, name) for name, spec in platform.specs.items() if spec.subscription]
    system.relays = [platform.runtime(name).relay() for name in platform.specs]
    return system
