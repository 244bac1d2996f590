"""What a service tells the platform about itself, and the per-process resources built from it.

Each service exposes one `ServiceSpec` (its `spec.py`) under the `teleservices.services` entry
point group. The embedded runner, the worker and relay commands and the tests find services
through that group, so no service (and nothing in `shared/`) imports another service.

A spec is a declaration: the events the service publishes and those it consumes (every event
type has one owner, the service that publishes it), and where its parts live, as import paths
resolved only when used. So a process loads only its own service: a web worker of accounts
imports neither the notifier nor xhtml2pdf, and a relay learns the other services' queues from
their declarations alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from pkgutil import resolve_name
from typing import TYPE_CHECKING
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import MetaData, Table

from ts_shared.config import Settings
from ts_shared.db import make_engine, make_session_factory, upgrade_database
from ts_shared.messaging.bus import Subscription
from ts_shared.messaging.events import EVENT_TYPES
from ts_shared.messaging.outbox import MessagingTables, OutboxRelay
from ts_shared.registry import ENTRY_POINT_GROUP
from ts_shared.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    import click
    from flask import Flask

    from ts_shared.messaging.consumer import BatchHandler, EventConsumer, Handler



@dataclass(frozen=True)
class Job:
    """A periodic task of a service (e.g. the expiry of accounts, I1): `run` returns a summary."""

    name: str
    every_seconds: int
    run: Callable[[ServiceRuntime], str]


class ServiceSpec:
    """A service, declared. The import paths ("module:attribute") are resolved on first use:

    - `orm`: the module holding `Base` (its metadata), `MESSAGING` (outbox, processed events) and
      `WEB_SESSIONS`;
    - `app`: `create_app(runtime) -> Flask`;
    - `handlers`: the table of event handlers, one per type in `consumes`;
    - `commands`: click commands added at the top level of `tsctl` (e.g. `tsctl school ...`);
    - `seed_demo`: embedded mode only, fills an empty database with demo data (lines to print);
    - `jobs`: the service's periodic jobs;
    - `batch_handler`: applies a list of events at once, for a consumer that takes its deliveries
      by batches of `consume_batch` (one transaction per batch; 1: one by one).
    """

    def __init__(self, name: str, *, migrations_dir: Path, orm: str, app: str, publishes: Sequence[str] = (),
                 consumes: Sequence[str] = (), handlers: str | None = None, commands: str | None = None,
                 seed_demo: str | None = None, jobs: str | None = None, batch_handler: str | None = None,
                 consume_batch: int = 1):
        unknown = (set(publishes) | set(consumes)) - EVENT_TYPES
        if unknown:
            raise ValueError(f"service {name}: unknown event type(s) {', '.join(sorted(unknown))}")
        if bool(consumes) != bool(handlers):
            raise ValueError(f"service {name}: a service that consumes events names its handlers, and only then")
        self.name = name
        self.migrations_dir = migrations_dir
        self.publishes = frozenset(publishes)
        self.consumes = frozenset(consumes)
        self.consume_batch = consume_batch
        self._paths = {"orm": orm, "app": app, "handlers": handlers, "commands": commands, "seed_demo": seed_demo,
                       "jobs": jobs, "batch_handler": batch_handler}

    def __repr__(self) -> str:
        return f"ServiceSpec({self.name!r})"

    def _resolve(self, part: str):
        path = self._paths[part]
        return resolve_name(path) if path else None

    # --- the database ---------------------------------------------------------------------------

    @cached_property
    def _orm(self):
        return resolve_name(self._paths["orm"])

    @property
    def metadata(self) -> MetaData:
        return self._orm.Base.metadata

    @property
    def tables(self) -> MessagingTables:
        return self._orm.MESSAGING

    @property
    def web_sessions(self) -> Table:
        """The sessions of the service's pages (ts_shared.web.server_session)."""
        return self._orm.WEB_SESSIONS

    # --- the processes --------------------------------------------------------------------------

    def create_app(self, runtime: ServiceRuntime) -> Flask:
        return self._resolve("app")(runtime)

    @cached_property
    def handlers(self) -> Mapping[str, Handler]:
        handlers = self._resolve("handlers") or {}
        if set(handlers) != self.consumes:
            raise RuntimeError(f"service {self.name}: its handlers ({', '.join(sorted(handlers))}) are not the events "
                               f"it declares it consumes ({', '.join(sorted(self.consumes))})")
        return handlers

    @cached_property
    def batch_handler(self) -> BatchHandler | None:
        return self._resolve("batch_handler")

    @cached_property
    def commands(self) -> Sequence[click.Command]:
        return self._resolve("commands") or ()

    @cached_property
    def seed_demo(self) -> Callable[[ServiceRuntime], list[str]] | None:
        return self._resolve("seed_demo")

    @cached_property
    def jobs(self) -> Sequence[Job]:
        return self._resolve("jobs") or ()

    @property
    def subscription(self) -> Subscription | None:
        """The service's queue and what is bound to it, from the declaration alone (the topology
        every relay and worker declares)."""
        if not self.consumes:
            return None
        return Subscription(queue=f"ts.{self.name}", event_types=self.consumes)


class ServiceRuntime:
    """A service's database resources in this process, and its unit of work, consumer and relay."""

    def __init__(self, spec: ServiceSpec, settings: Settings):
        self.spec = spec
        self.settings = settings

    @cached_property
    def engine(self):
        return make_engine(self.settings.database_url(self.spec.name),
                           connect_timeout=self.settings.database_connect_timeout,
                           statement_timeout=self.settings.database_statement_timeout)

    @cached_property
    def session_factory(self):
        return make_session_factory(self.engine)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.spec.tables.outbox, self.spec.name, self.settings,
                          publishes=self.spec.publishes)

    def migrate(self) -> None:
        upgrade_database(self.engine, self.spec.migrations_dir)

    def consumer(self) -> EventConsumer:
        from ts_shared.messaging.consumer import EventConsumer

        if self.spec.subscription is None:
            raise ValueError(f"service {self.spec.name} consumes no event")
        subscription = Subscription(queue=self.spec.subscription.queue, handlers=self.spec.handlers)
        return EventConsumer(service=self.spec.name, subscription=subscription, uow_factory=self.uow,
                             processed_events=self.spec.tables.processed_events, batch_size=self.spec.consume_batch,
                             batch_handler=self.spec.batch_handler)

    def relay(self, *, relay_id: str | None = None) -> OutboxRelay:
        return OutboxRelay(service=self.spec.name, engine=self.engine, outbox=self.spec.tables.outbox,
                           broker_url=self.settings.broker_url, subscriptions=all_subscriptions(),
                           batch_size=self.settings.relay_batch_size, lease_seconds=self.settings.relay_lease_seconds,
                           relay_id=relay_id)

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def _load(entry_point) -> ServiceSpec:
    spec = entry_point.load()
    if spec.name != entry_point.name:
        raise RuntimeError(f"entry point {entry_point.name!r} names service {spec.name!r}")
    return spec


def discover_services() -> dict[str, ServiceSpec]:
    """Every service's declaration (their code is loaded only when used)."""
    return dict(sorted((spec.name, spec) for spec in map(_load, entry_points(group=ENTRY_POINT_GROUP))))


def load_service(name: str) -> ServiceSpec:
    """One service's declaration, without loading the others'."""
    found = list(entry_points(group=ENTRY_POINT_GROUP, name=name))
    if not found:
        known = ", ".join(sorted(entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)))
        raise LookupError(f"unknown service {name!r}; known: {known}")
    return _load(found[0])


def all_subscriptions() -> list[Subscription]:
    """Every service's queue: the whole topology, declared by relays and workers alike."""
    return [spec.subscription for spec in discover_services().values() if spec.subscription is not None]
