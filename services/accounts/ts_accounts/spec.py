"""The accounts service as the platform sees it (entry point `teleservices.services`)."""
from pathlib import Path

from ts_accounts.adapters.orm import MESSAGING, WEB_SESSIONS, Base
from ts_accounts.app import create_app
from ts_accounts.cli import COMMANDS
from ts_accounts.jobs import expire_job
from ts_accounts.consumers import HANDLERS
from ts_accounts.demo.seed import seed_demo
from ts_shared.service import Job, ServiceSpec

SERVICE = ServiceSpec(
    name="accounts",
    create_app=create_app,
    metadata=Base.metadata,
    tables=MESSAGING,
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    web_sessions=WEB_SESSIONS,
    handlers=HANDLERS,
    commands=COMMANDS,
    seed_demo=seed_demo,
    jobs=(Job("expire_accounts", every_seconds=3600, run=expire_job),),
)
