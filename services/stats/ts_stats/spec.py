"""The stats service as the platform sees it (entry point `teleservices.services`)."""
from pathlib import Path

from ts_shared.service import ServiceSpec
from ts_stats.adapters.orm import MESSAGING, WEB_SESSIONS, Base
from ts_stats.app import create_app
from ts_stats.consumers import HANDLERS

SERVICE = ServiceSpec(
    name="stats",
    create_app=create_app,
    metadata=Base.metadata,
    tables=MESSAGING,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    web_sessions=WEB_SESSIONS,
    handlers=HANDLERS,
)
