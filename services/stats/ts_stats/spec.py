"""The stats service as the platform sees it (entry point `teleservices.services`): a
declaration, loaded without the service's code."""
from pathlib import Path

from ts_shared.service import ServiceSpec

SERVICE = ServiceSpec(
    "stats",
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    orm="ts_stats.adapters.orm",
    app="ts_stats.app:create_app",
    consumes=("account.created", "account.updated", "account.notified", "account.activation_started",
              "account.activated", "account.merged", "account.deleted", "school.settings_changed",
              "portal.service_accessed"),
    handlers="ts_stats.consumers:HANDLERS",
    commands="ts_stats.cli:COMMANDS",
    # Deliveries applied by batches of up to 200 in one transaction, acknowledged after its commit.
    batch_handler="ts_stats.consumers:apply_batch",
    consume_batch=200,
)
