"""Access to the real PostgreSQL and RabbitMQ of this machine, for integration tests.

Absent services make those tests skip with the reason, except when TS_REQUIRE_SERVICES=1
(`.ci/run` sets it): then a missing service is a failure, never a silent skip.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import pytest

POSTGRES_ADMIN_URL = os.environ.get("TS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
POSTGRES_HOST, _, _port = POSTGRES_ADMIN_URL.split("@", 1)[1].split("/", 1)[0].partition(":")
POSTGRES_PORT = int(_port or 5432)
RABBITMQ_HOST = os.environ.get("TS_TEST_RABBITMQ_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("TS_TEST_RABBITMQ_PORT", "5672"))


def services_required() -> bool:
    return os.environ.get("TS_REQUIRE_SERVICES") == "1"


def unavailable(reason: str):
    """Skip, or fail when the run requires the real services."""
    if services_required():
        pytest.fail(f"{reason} (TS_REQUIRE_SERVICES=1: integration tests must run here)", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def create_postgres_database() -> str:
    """A new empty database; returns its SQLAlchemy URL."""
    from sqlalchemy import create_engine, text

    if not port_open(POSTGRES_HOST, POSTGRES_PORT):
        unavailable(f"PostgreSQL is not reachable on {POSTGRES_HOST}:{POSTGRES_PORT}")
    name = f"ts_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        unavailable(f"cannot create a PostgreSQL test database: {error}")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, text=True, timeout=60).stdout


def create_rabbitmq_vhost() -> str:
    """A new, empty virtual host (isolates each test's exchanges and queues); returns its URL."""
    if not port_open(RABBITMQ_HOST, RABBITMQ_PORT):
        unavailable(f"RabbitMQ is not reachable on {RABBITMQ_HOST}:{RABBITMQ_PORT}")
    if shutil.which("rabbitmqctl") is None:
        unavailable("rabbitmqctl is not on PATH: cannot create an isolated test vhost")
    vhost = f"ts_test_{uuid.uuid4().hex[:12]}"
    try:
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        unavailable(f"cannot create a RabbitMQ test vhost with rabbitmqctl: {error}")
    return f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{vhost}"


def delete_rabbitmq_vhost(url: str) -> None:
    try:
        rabbitmqctl("delete_vhost", url.rsplit("/", 1)[1])
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        pass
