"""What the benches share: a scratch RabbitMQ virtual host and scratch PostgreSQL databases on the real
servers of this machine, migrated, and dropped afterwards."""
from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from ts_shared.config import Settings
from ts_shared.runtime.process import Platform

POSTGRES_ADMIN_URL = os.environ.get("TS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RABBITMQ_HOST, RABBITMQ_PORT = os.environ.get("TS_BENCH_RABBITMQ", "127.0.0.1:5672").split(":")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


def admin(statement: str) -> None:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


@contextmanager
def scratch_platform(prefix: str, services: Iterable[str], **env: str) -> Iterator[Platform]:
    """A platform of `services` on a fresh virtual host and fresh databases (migrated), with `env` added
    to its TS_* settings; everything is dropped on the way out."""
    tag = uuid.uuid4().hex[:8]
    vhost, databases = f"ts_bench_{tag}", {service: f"ts_bench_{tag}_{service}" for service in services}
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    for name in databases.values():
        admin(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    settings = Settings.from_env({
        "TS_DATA_DIR": tempfile.mkdtemp(prefix=prefix), "TS_LOG_LEVEL": "ERROR",
        "TS_BROKER_URL": f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{vhost}",
        **{f"TS_{service.upper()}_DATABASE_URL": f"{base}/{name}" for service, name in databases.items()},
        **env,
    })
    platform = Platform(settings)
    try:
        for service in databases:
            platform.runtime(service).migrate()
        yield platform
    finally:
        platform.dispose()
        for name in databases.values():
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        rabbitmqctl("delete_vhost", vhost)
