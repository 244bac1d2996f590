"""Fixtures of the stats tests: the embedded platform (SQLite, in-memory broker) with every
service's database migrated, and a way to open stats pages as a given staff member (the identity
header the gateway would forward after asking accounts)."""
from __future__ import annotations

import time

import pytest
from werkzeug.test import Client

from support.bus import reset_memory_broker
from support.settings import settings_for
from ts_shared.runtime.process import Platform
from ts_shared.web.staff_session import (
    RIGHT_STATISTICS, SCHOOL_RIGHTS, STAFF_IDENTITY_HEADER, StaffIdentity, seal_identity,
)

UAI = "0541234X"


@pytest.fixture
def platform(tmp_path):
    reset_memory_broker()
    platform = Platform(settings_for(tmp_path))
    for name in ("accounts", "stats"):
        platform.runtime(name).migrate()
    yield platform
    platform.dispose()
    reset_memory_broker()


def staff(*, school_uai: str | None = UAI, rights=SCHOOL_RIGHTS, academy_admin: bool = False,
          academy_code: str | None = None, school_name: str | None = "Collège Jean Moulin") -> StaffIdentity:
    return StaffIdentity(staff_id=7, login="chef.test", display_name="Chef Test", school_uai=school_uai,
                         school_name=school_name if school_uai else None, rights=frozenset(rights),
                         academy_admin=academy_admin, expires_at=time.time() + 3600, academy_code=academy_code)


@pytest.fixture
def identity():
    """identity(**changes): a staff member (by default the head of the fixture school)."""
    return staff


@pytest.fixture
def delegate():
    """A delegate of the fixture school with « Statistiques » only."""
    return staff(rights={RIGHT_STATISTICS})


class StatsPages:
    """The stats app, asked as one staff member (through the gateway's identity header)."""

    def __init__(self, platform: Platform, identity: StaffIdentity | None):
        self.client = Client(platform.runtime("stats").spec.create_app(platform.runtime("stats")))
        self.identity, self.token = identity, platform.settings.internal_token

    def get(self, path: str, **kwargs):
        headers = {STAFF_IDENTITY_HEADER: seal_identity(self.identity, self.token)} if self.identity else {}
        return self.client.get(path, headers=headers, **kwargs)


@pytest.fixture
def pages(platform):
    return lambda identity=None: StatsPages(platform, identity if identity is not None else staff())
