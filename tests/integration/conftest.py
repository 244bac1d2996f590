"""Fixtures of the real-infrastructure tests: services on fresh PostgreSQL databases, and TCP
proxies in front of RabbitMQ and PostgreSQL to make faults without root."""
from __future__ import annotations

import pytest

from support.infra import (
    POSTGRES_HOST, POSTGRES_PORT, RABBITMQ_HOST, RABBITMQ_PORT, create_postgres_database, drop_postgres_database,
)
from support.settings import settings_for
from support.tcp_proxy import TcpProxy
from ts_shared.runtime.process import Platform


@pytest.fixture
def make_platform(tmp_path, rabbitmq_url):
    """Platform(services on PostgreSQL, broker URL) — the other services stay on SQLite.

    `database_proxies={"stats": proxy}` reaches that service's database through a proxy;
    other keywords override settings."""
    created: list[str] = []
    platforms: list[Platform] = []

    def make(*services: str, broker_url: str | None = None, database_proxies: dict | None = None,
             **overrides) -> Platform:
        urls = {}
        for service in services:
            urls[service] = create_postgres_database()
            created.append(urls[service])
            if service in (database_proxies or {}):
                urls[service] = database_proxies[service].reroute(urls[service])
        settings = settings_for(tmp_path, broker_url=broker_url or rabbitmq_url, **urls)
        platform = Platform(settings.with_overrides(**overrides) if overrides else settings)
        for service in services:
            platform.runtime(service).migrate()
        platforms.append(platform)
        return platform

    yield make
    for platform in platforms:
        platform.dispose()
    for url in created:
        drop_postgres_database(url)


@pytest.fixture
def proxy():
    """A proxy in front of RabbitMQ."""
    proxy = TcpProxy(RABBITMQ_HOST, RABBITMQ_PORT).start()
    yield proxy
    proxy.close()


@pytest.fixture
def database_proxy():
    """A proxy in front of PostgreSQL."""
    proxy = TcpProxy(POSTGRES_HOST, POSTGRES_PORT).start()
    yield proxy
    proxy.close()
