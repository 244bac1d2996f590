"""Fixtures shared by the cross-service tests."""
from __future__ import annotations

import pytest

from support.infra import (
    create_postgres_database, create_rabbitmq_vhost, delete_rabbitmq_vhost, drop_postgres_database,
)


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database for one test."""
    url = create_postgres_database()
    yield url
    drop_postgres_database(url)


@pytest.fixture
def rabbitmq_url():
    """A fresh RabbitMQ virtual host for one test (its own exchanges and queues)."""
    url = create_rabbitmq_vhost()
    yield url
    delete_rabbitmq_vhost(url)
