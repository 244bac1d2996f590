"""What a service tells the platform about itself, and the per-process resources built from it.

Each service exposes one `ServiceSpec` (its `spec.py`) under the `teleservices.services` entry
point group. The embedded runner, the worker and relay commands and the tests find services
through that group, so no service (and nothing in `shared/`) imports another service.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from sqlalchemy import MetaData, Table

from ts_shared.config import Settings
from ts_shared.db import make_engine, make_session_factory, upgrade_database
from ts_shared.messaging.bus import Subscription
from ts_shared.messaging.outbox import MessagingTables, OutboxRelay
from ts_shared.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    import click
    from flask import Flask

    from ts_shared.messaging.consumer import EventConsumer, Handler

ENTRY_POINT_GROUP = "teleservices.services"


@dataclass(frozen=True)
class Job:
    """A periodic task of a service (e.g. the expiry of accounts, I1): `run` returns a summary."""

    name: str
    every_seconds: int
    run: Callable[["ServiceRuntime"], str]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    create_app: Callable[[Settings, "ServiceRuntime | None"], "Flask"]
    metadata: MetaData
    tables: MessagingTables
    migrations_dir: Path
    web_sessions: Table  # the sessions of the service's pages (ts_shared.web.server_session)
    handlers: Mapping[str, "Handler"] = field(default_factory=dict)
    uow_class: type[UnitOfWork] = UnitOfWork
    # Click commands added at the top level of `tsctl` (e.g. `tsctl school ...`).
    commands: Sequence["click.Command"] = ()
    # Embedded mode only: fill an empty database with demo data; returns lines to print.
    seed_demo: Callable[["ServiceRuntime"], list[str]] | None = None
    jobs: Sequence[Job] = ()

    @property
    def subscription(self) -> Subscription | None:
        return Subscription(queue=f"ts.{self.name}", handlers=self.handlers) if self.handlers else None


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
        return self.spec.uow_class(self.session_factory, self.spec.tables.outbox, self.spec.name, self.settings)

    def migrate(self) -> None:
        upgrade_database(self.engine, self.spec.migrations_dir)

    def consumer(self) -> "EventConsumer":
        from ts_shared.messaging.consumer import EventConsumer

        if self.spec.subscription is None:
            raise ValueError(f"service {self.spec.name} consumes no event")
        return EventConsumer(service=self.spec.name, subscription=self.spec.subscription, uow_factory=self.uow,
                             processed_events=self.spec.tables.processed_events)

    def relay(self, *, relay_id: str | None = None) -> OutboxRelay:
        return OutboxRelay(service=self.spec.name, engine=self.engine, outbox=self.spec.tables.outbox,
                           broker_url=self.settings.broker_url, subscriptions=all_subscriptions(),
                           batch_size=self.settings.relay_batch_size, lease_seconds=self.settings.relay_lease_seconds,
                           relay_id=relay_id)

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def discover_services() -> dict[str, ServiceSpec]:
    specs = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        spec = entry_point.load()
        if spec.name != entry_point.name:
            raise RuntimeError(f"entry point {entry_point.name!r} names service {spec.name!r}")
        specs[spec.name] = spec
    return dict(sorted(specs.items()))


def all_subscriptions() -> list[Subscription]:
    """Every service's queue: the whole topology, declared by relays and workers alike."""
    return [spec.subscription for spec in discover_services().values() if spec.subscription is not None]
