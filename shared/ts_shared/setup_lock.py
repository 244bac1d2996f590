"""One process at a time sets up an embedded installation (its generated secrets, its SQLite
migrations): gunicorn's workers start together, and `tsctl` may start next to `make run`."""
from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator


@contextmanager
def setup_lock(data_dir: Path) -> Iterator[None]:
    """An exclusive lock on the data folder (not re-entrant: never nest two)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".setup.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
