"""Téléservices common package: configuration, events and bus, outbox, idempotent consumer,
staff-session verification, logging and metrics. No domain logic lives here."""
