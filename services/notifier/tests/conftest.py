"""Fixtures of the notifier's tests. `platform` (a fresh embedded platform per test, from the
module's `seed` made once) comes from the repository's conftest.py. The notifier's console pages
are reached through the gateway, as staff reach them: signing in is the accounts service's."""
from __future__ import annotations

import pytest

from support import console
from ts_shared.runtime.gateway import Gateway


@pytest.fixture
def app(platform):
    """The notifier's app on the test's platform."""
    return platform.app("notifier")


@pytest.fixture
def gateway(platform):
    """Every service's app behind the gateway, as staff's browsers reach them."""
    return Gateway({name: platform.app(name) for name in platform.specs})


@pytest.fixture
def csrf():
    """`csrf(page)`: the CSRF token of a console page."""
    return console.csrf


@pytest.fixture
def sign_in(gateway):
    """`sign_in(login, password)`: a client signed in to the console, through the gateway."""
    return lambda login, password: console.sign_in(gateway, login, password)
