"""The one call stats makes to accounts: a school's statistics snapshot (internal HTTP)."""
from __future__ import annotations

from ts_shared.config import Settings
from ts_shared.statistics_snapshot import STATISTICS_SNAPSHOT_PATH, load_snapshot
from ts_shared.web.internal_api import InternalClient, InternalServiceError


class SnapshotUnavailable(RuntimeError):
    """Accounts could not give the snapshot (unreachable, unknown school, refused token): the message says why."""


def fetch_snapshot(settings: Settings, uai: str, *, timeout: float = 120.0) -> dict:
    client = InternalClient(settings.accounts_internal_url, settings.internal_token, timeout=timeout)
    try:
        status, body = client.post(STATISTICS_SNAPSHOT_PATH, {"uai": uai})
    except InternalServiceError as error:
        raise SnapshotUnavailable(f"le service accounts ne répond pas ({error})") from None
    if status != 200:
        raise SnapshotUnavailable(body.get("error") or f"HTTP {status}")
    return load_snapshot(body)
