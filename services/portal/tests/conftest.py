"""Fixtures of the portal's tests. `platform` (a fresh embedded platform per test, from the
module's `seed` made once) comes from the repository's conftest.py."""
from __future__ import annotations

import pytest

from support import console


@pytest.fixture
def app(platform):
    """The portal's app on the test's platform."""
    return platform.app("portal")


@pytest.fixture
def csrf():
    """`csrf(page)`: the CSRF token of a page's form."""
    return console.csrf
