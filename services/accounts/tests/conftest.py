"""Fixtures of the accounts service's tests. `platform` (a fresh embedded platform per test, from
the module's `seed` made once) comes from the repository's conftest.py."""
from __future__ import annotations

import pytest

from support import console


@pytest.fixture
def app(platform):
    """The accounts service's app on the test's platform."""
    return platform.app("accounts")


@pytest.fixture
def csrf():
    """`csrf(page)`: the CSRF token of a console page."""
    return console.csrf


@pytest.fixture
def sign_in(app):
    """`sign_in(login, password)`: a client signed in to the console of `app`."""
    return lambda login, password: console.sign_in(app, login, password)
