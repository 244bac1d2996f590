"""The portal service as the platform sees it (entry point `teleservices.services`)."""
from pathlib import Path

from ts_portal.adapters.orm import MESSAGING, WEB_SESSIONS, Base
from ts_portal.app import create_app
from ts_portal.consumers import HANDLERS
from ts_shared.service import ServiceSpec

SERVICE = ServiceSpec(
    name="portal",
    create_app=create_app,
    metadata=Base.metadata,
    tables=MESSAGING,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    web_sessions=WEB_SESSIONS,
    handlers=HANDLERS,
)
