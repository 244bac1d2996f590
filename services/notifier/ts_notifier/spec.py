"""The notifier service as the platform sees it (entry point `teleservices.services`)."""
from pathlib import Path

from ts_notifier.adapters.orm import MESSAGING, WEB_SESSIONS, Base
from ts_notifier.app import create_app
from ts_notifier.consumers import HANDLERS
from ts_notifier.jobs import purge_files_job
from ts_shared.service import Job, ServiceSpec

SERVICE = ServiceSpec(
    name="notifier",
    create_app=create_app,
    metadata=Base.metadata,
    tables=MESSAGING,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    web_sessions=WEB_SESSIONS,
    handlers=HANDLERS,
    jobs=(Job("purge_files", every_seconds=600, run=purge_files_job),),
)
