"""Database plumbing shared by the services: engines, a UTC datetime column type, the Alembic
runner and the model/migration drift check. No tables of any service live here."""
from __future__ import annotations

import logging
from datetime import datetime, UTC
from pathlib import Path
from typing import Annotated, Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event, exc, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import mapped_column, sessionmaker, Session
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# Constraint names are explicit so that Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone: store naive UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} refused: use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Reusable annotated column types for Mapped[...] models.
timestamp = Annotated[datetime, mapped_column(UTCDateTime())]


def make_engine(url: str, *, echo: bool = False, connect_timeout: int = 5, statement_timeout: float = 60.0) -> Engine:
    """An engine configured for the backend: on SQLite (embedded mode) WAL, foreign keys, a busy
    timeout and `BEGIN IMMEDIATE` so that concurrent writers wait instead of failing midway.

    On PostgreSQL a database that goes silent must not hang a process for ever: a connection
    attempt gives up after `connect_timeout` seconds, a statement after `statement_timeout` (a lock
    that is never released, an overloaded server), and TCP keepalives plus `tcp_user_timeout`
    notice a peer that vanished without closing. Each is a setting of the URL's query too, which
    wins."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" below decide
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    query = make_url(url).query
    connect_args: dict[str, Any] = {"connect_timeout": connect_timeout, "keepalives": 1, "keepalives_idle": 30,
                    "keepalives_interval": 10, "keepalives_count": 3, "tcp_user_timeout": 60_000}
    connect_args = {name: value for name, value in connect_args.items() if name not in query}
    options = query.get("options", "")
    if statement_timeout and "statement_timeout" not in options:
        connect_args["options"] = f"{options} -c statement_timeout={int(statement_timeout * 1000)}".strip()
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=connect_args)


# SQLSTATE classes of PostgreSQL errors that say the database cannot answer now, not that the
# statement is wrong: connection exception, insufficient resources, operator intervention (a
# statement timeout, a shutdown, a terminated session), system error, transaction rollback
# (serialization failure, deadlock); and lock_not_available (a lock timeout).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "58", "40")
_UNAVAILABLE_SQLSTATES = ("55P03",)
_UNAVAILABLE_SQLITE_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_FULL")


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is down, unreachable, silent, overloaded or locked (try
    again later), rather than that the work itself failed (a bug or bad data: retrying the same
    work fails the same way)."""
    if isinstance(error, exc.TimeoutError):  # no connection free in the pool
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if original is not None and hasattr(original, "sqlstate"):  # psycopg
        sqlstate: str | None = original.sqlstate
        if sqlstate is None:  # raised by the client: connection refused, closed, timed out
            return isinstance(error, (exc.OperationalError, exc.InterfaceError))
        return sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in _UNAVAILABLE_SQLSTATES
    return getattr(original, "sqlite_errorname", "").startswith(_UNAVAILABLE_SQLITE_ERRORS)


def insert_for(connectable: Session | Connection):
    """The dialect's INSERT (PostgreSQL's or SQLite's), for `on_conflict_do_nothing` and
    `on_conflict_do_update`: an upsert that holds when two writers insert the same key at once."""
    dialect = (connectable.get_bind() if isinstance(connectable, Session) else connectable).dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


# --- migrations --------------------------------------------------------------------------------

def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(engine: Engine, migrations_dir: Path, revision: str = "head") -> None:
    """Apply the service's Alembic migrations to `engine`'s database."""
    config = alembic_config(migrations_dir, engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")  # an index on a big table takes time
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_drift(engine: Engine, metadata: MetaData) -> list:
    """Differences between the models and a migrated database (empty = no drift): the
    `alembic check` of our tests."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": engine.dialect.name == "sqlite"}
        )
        return compare_metadata(context, metadata)


def run_alembic_env(target_metadata: MetaData) -> None:
    """Body of every service's migrations/env.py (online mode only: we always have a database)."""
    from alembic import context

    config = context.config
    connection = config.attributes.get("connection")

    def _run(conn) -> None:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            compare_type=True,
            render_as_batch=conn.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()

    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: no sqlalchemy.url and no connection to migrate")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
