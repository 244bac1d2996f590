"""Settings and fixtures that every test suite of the repository shares (services/*/tests and tests/)."""
from __future__ import annotations

import os

import pytest

from ts_shared.config import FAST_PASSWORD_HASHING

# The smallest argon2id parameters: the suites hash and check thousands of passwords. Set before any
# test module imports ts_accounts, and inherited by the processes the tests start (tsctl, gunicorn).
# Production mode refuses this value; tests/test_config.py and test_credentials.py prove that the
# defaults are still OWASP's profile.
os.environ["TS_PASSWORD_HASHING"] = FAST_PASSWORD_HASHING


@pytest.fixture(scope="session")
def migrated_data(tmp_path_factory):
    """A data folder with every service's database migrated, once per session (copied per test)."""
    from support.platforms import migrated_data

    return migrated_data(tmp_path_factory.mktemp("migrated"))


@pytest.fixture(scope="module")
def platform_data(request, migrated_data, tmp_path_factory):
    """The data each test of a module starts from: the migrated databases, after the module's
    `seed(platform, folder)` function when it has one (run once for the module)."""
    from support.platforms import seeded_data

    seed = getattr(request.module, "seed", None)
    if seed is None:
        return migrated_data
    return seeded_data(migrated_data, tmp_path_factory.mktemp("seeded"), seed)


@pytest.fixture(scope="module")
def module_platform(platform_data, tmp_path_factory):
    """The embedded platform (SQLite, in-memory broker) that a module's tests share, with its apps."""
    from support.platforms import platform_from

    platform = platform_from(platform_data, tmp_path_factory.mktemp("platform"))
    yield platform
    platform.dispose()


@pytest.fixture
def platform(module_platform, platform_data):
    """The module's platform, its databases back to `platform_data` (the migrated databases and the
    module's seed) and its other files gone: each test starts from the same data. A module
    overrides it when it needs other settings (`support.platforms.platform_from`)."""
    module_platform.restore(platform_data)
    yield module_platform
    module_platform.dispose()
