"""Alembic environment of the portal database (the body is shared by every service)."""
from ts_shared.db import run_alembic_env
from ts_portal.adapters.orm import Base

run_alembic_env(Base.metadata)
