"""Embedded platforms for tests, made by copying SQLite databases instead of migrating and seeding
every time: the migrations run once per session, a test module's seed once per module, and each test
starts from a copy of the result, so that tests stay independent.

A module's tests share one `ReusablePlatform` and its apps (building the accounts app costs more than
most tests: 280 routes and the OpenAPI document); before each test its databases are restored from
the module's seed and its other files removed."""
from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from collections.abc import Callable
from pathlib import Path

from support.settings import settings_for
from ts_shared.runtime.process import Platform

# What a data folder holds that a copy must carry: the databases and the generated secrets.
_COPIED = ("*.sqlite", "embedded-secrets.json")
# What `restore` leaves in a data folder (the databases are restored in place).
_KEPT = (".sqlite", ".sqlite-wal", ".sqlite-shm", "embedded-secrets.json")


def copy_data(source: Path, target: Path) -> Path:
    """Copy the embedded databases (closed, so without WAL files) and secrets of `source` into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for pattern in _COPIED:
        for path in source.glob(pattern):
            shutil.copyfile(path, target / path.name)
    return target


def migrated_data(folder: Path) -> Path:
    """A data folder where every service's database is migrated to its head."""
    platform = Platform(settings_for(folder))
    try:
        for name in platform.specs:
            platform.runtime(name)
    finally:
        platform.dispose()
    _check_closed(folder)
    return folder


def seeded_data(template: Path, folder: Path, seed: Callable[[Platform, Path], object]) -> Path:
    """A copy of `template` in `folder` after `seed(platform, folder)` (e.g. a file's schools and staff)."""
    platform = ReusablePlatform(settings_for(copy_data(template, folder)))
    try:
        seed(platform, folder)
    finally:
        platform.dispose()
    _check_closed(folder)
    return folder


class ReusablePlatform(Platform):
    """A Platform that keeps the app of each service it made, and can go back to a template's data."""

    def __init__(self, settings):
        super().__init__(settings)
        self._apps: dict = {}

    def app(self, name: str):
        """The app of service `name` on this platform (made once)."""
        if name not in self._apps:
            self._apps[name] = self.spec(name).create_app(self.runtime(name))
        return self._apps[name]

    def restore(self, template: Path) -> None:
        """Bring every database back to `template`'s content and remove any other file a test made
        (letters, exports). The engines and apps stay: SQLite's backup copies the pages under
        their locks, and the next connection sees the template's data."""
        self.dispose()  # no pooled connection holds a transaction or a stale page
        folder = self.settings.data_dir
        for path in folder.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            elif not path.name.endswith(_KEPT):
                path.unlink()
        for source in template.glob("*.sqlite"):
            with closing(sqlite3.connect(source)) as original, \
                    closing(sqlite3.connect(folder / source.name, timeout=30)) as copy:
                original.backup(copy)


def platform_from(template: Path, folder: Path, **settings) -> ReusablePlatform:
    """A platform on a copy of `template`: its own data folder `folder`."""
    return ReusablePlatform(settings_for(copy_data(template, folder), **settings))


def _check_closed(folder: Path) -> None:
    # A database still open would leave its latest pages in a -wal file that the copy would miss.
    left = sorted(path.name for path in folder.glob("*.sqlite-wal"))
    assert not left, f"databases still open in {folder}: {left}"
