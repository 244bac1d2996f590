"""The portal service as the platform sees it (entry point `teleservices.services`): a
declaration, loaded without the service's code."""
from pathlib import Path

from ts_shared.service import ServiceSpec

SERVICE = ServiceSpec(
    "portal",
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    orm="ts_portal.adapters.orm",
    app="ts_portal.app:create_app",
    publishes=("portal.service_accessed", "contact_message.requested"),
    consumes=("school.settings_changed",),
    handlers="ts_portal.consumers:HANDLERS",
)
