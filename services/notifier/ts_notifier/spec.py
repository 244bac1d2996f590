"""The notifier service as the platform sees it (entry point `teleservices.services`): a
declaration, loaded without the service's code (xhtml2pdf is imported by the notifier alone)."""
from pathlib import Path

from ts_shared.service import ServiceSpec

SERVICE = ServiceSpec(
    "notifier",
    migrations_dir=Path(__file__).resolve().parent.parent / "migrations",
    orm="ts_notifier.adapters.orm",
    app="ts_notifier.app:create_app",
    publishes=("notification.delivered", "notification.failed", "staff_action.recorded"),
    consumes=("school.settings_changed", "family_email.requested", "notification.requested",
              "notification.batch_requested", "class_list.requested", "contact_message.requested"),
    handlers="ts_notifier.consumers:HANDLERS",
    jobs="ts_notifier.jobs:JOBS",
)
