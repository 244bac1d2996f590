"""The accounts service as the platform sees it (entry point `teleservices.services`): a
declaration, loaded without the service's code."""
from pathlib import Path

from ts_shared.service import ServiceSpec

SERVICE = ServiceSpec(
    "accounts",
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    orm="ts_accounts.adapters.orm",
    app="ts_accounts.app:create_app",
    publishes=("account.created", "account.updated", "account.notified", "account.activation_started",
               "account.activated", "account.deleted", "account.merged", "school.settings_changed",
               "notification.requested", "notification.batch_requested", "class_list.requested",
               "family_email.requested"),
    consumes=("notification.delivered", "notification.failed", "staff_action.recorded"),
    handlers="ts_accounts.consumers:HANDLERS",
    commands="ts_accounts.cli:COMMANDS",
    seed_demo="ts_accounts.demo.seed:seed_demo",
    jobs="ts_accounts.jobs:JOBS",
)
