"""Alembic environment of the accounts database (the body is shared by every service)."""
from ts_shared.db import run_alembic_env
from ts_accounts.adapters.orm import Base

run_alembic_env(Base.metadata)
