"""The event envelope every message on the bus carries, validated on both sides.

`new_event` validates a payload against its type's schema before it can reach the outbox;
`parse_event` validates what a consumer receives. Either raises `InvalidEvent` with the field
messages, so a bad event is refused where it is made and dead-lettered where it arrives.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from collections.abc import Mapping

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ts_shared.db import utcnow
from ts_shared.messaging.events import EVENT_SCHEMAS, UAI_PATTERN
from ts_shared.registry import service_names



def _installed(producer: str) -> None:
    """A producer is an installed service (its ServiceSpec says which event types it owns)."""
    if producer not in service_names():
        raise ValidationError(f"unknown producer {producer!r}")


class InvalidEvent(ValueError):
    def __init__(self, message: str, errors: Mapping[str, Any] | None = None):
        super().__init__(f"{message}: {errors}" if errors else message)
        self.errors = dict(errors or {})


class EnvelopeSchema(Schema):
    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Length(min=3, max=100))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=None)
    producer = fields.String(required=True, validate=_installed)
    school_uai = fields.String(required=True, allow_none=True, validate=validate.Regexp(UAI_PATTERN))
    payload = fields.Dict(required=True, keys=fields.String())


# What consumers load: fields they do not know (added by a newer producer) are ignored.
_RECEIVED_ENVELOPE = EnvelopeSchema(unknown=EXCLUDE)
_RECEIVED_PAYLOADS = {key: type(schema)(unknown=EXCLUDE) for key, schema in EVENT_SCHEMAS.items()}


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    version: int
    occurred_at: datetime
    producer: str
    school_uai: str | None
    payload: dict[str, Any]

    @property
    def uai(self) -> str:
        """The school of an event that is about a school (its type says so)."""
        if self.school_uai is None:
            raise InvalidEvent(f"{self.type} names no school")
        return self.school_uai

    def to_message(self) -> dict[str, Any]:
        """The JSON-ready envelope, as published and stored in the outbox."""
        return {
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "producer": self.producer,
            "school_uai": self.school_uai,
            "payload": self.payload,
        }


def _schema_for(event_type: str, version: int, *, received: bool = False) -> Schema:
    try:
        return (_RECEIVED_PAYLOADS if received else EVENT_SCHEMAS)[(event_type, version)]
    except KeyError:
        raise InvalidEvent(f"unknown event type {event_type!r} version {version}") from None


def new_event(event_type: str, payload: Mapping[str, Any], *, producer: str, school_uai: str | None,
              version: int = 1, occurred_at: datetime | None = None) -> Event:
    schema = _schema_for(event_type, version)
    try:
        # load() validates and converts; dump() turns it back into JSON-ready values.
        normalised = schema.dump(schema.load(dict(payload)))
    except ValidationError as error:
        raise InvalidEvent(f"invalid {event_type} payload", error.normalized_messages()) from None
    if producer not in service_names():
        raise InvalidEvent(f"unknown producer {producer!r}")
    return Event(
        id=str(uuid.uuid4()),
        type=event_type,
        version=version,
        occurred_at=occurred_at or utcnow(),
        producer=producer,
        school_uai=school_uai,
        payload=normalised,
    )


def parse_event(message: Mapping[str, Any]) -> Event:
    """Validate a received envelope and its payload; raise `InvalidEvent` if either is wrong.
    Fields this version of the code does not know are dropped (docs/events.md)."""
    if not isinstance(message, Mapping):
        raise InvalidEvent(f"envelope must be a JSON object, got {type(message).__name__}")
    try:
        envelope = _RECEIVED_ENVELOPE.load(dict(message))
    except ValidationError as error:
        raise InvalidEvent("invalid envelope", error.normalized_messages()) from None
    schema = _schema_for(envelope["type"], envelope["version"], received=True)
    try:
        payload = schema.load(envelope["payload"])
    except ValidationError as error:
        raise InvalidEvent(f"invalid {envelope['type']} payload", error.normalized_messages()) from None
    return Event(
        id=str(envelope["id"]),
        type=envelope["type"],
        version=envelope["version"],
        occurred_at=envelope["occurred_at"],
        producer=envelope["producer"],
        school_uai=envelope["school_uai"],
        payload=payload,
    )
