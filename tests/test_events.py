"""The event envelope and the catalogue of payload schemas."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from ts_shared.messaging.envelope import InvalidEvent, new_event, parse_event
from ts_shared.messaging.events import EVENT_TYPES
from ts_shared.registry import service_names
from ts_shared.service import ServiceRuntime, all_subscriptions, discover_services, load_service

from support.settings import environment_for, settings_for

ACCOUNT = {"account_id": "a-1", "version": 1, "kind": "guardian", "login": "jean.dupont", "state": "not_notified",
           "children": [{"school_uai": "0541234X", "student_id": "1234", "guardian_id": "987", "legal_rank": 1,
                         "division": "3A", "mef_code": "10310019110"}]}


def test_an_event_survives_the_round_trip_through_its_envelope():
    event = new_event("account.created", {"account": ACCOUNT}, producer="accounts", school_uai="0541234X")
    parsed = parse_event(event.to_message())
    assert parsed.id == event.id and uuid.UUID(parsed.id)
    assert parsed.type == "account.created" and parsed.school_uai == "0541234X"
    assert parsed.payload["account"]["login"] == "jean.dupont"
    assert parsed.payload["account"]["notified_at"] is None  # defaults filled in
    assert parsed.payload["account"]["children"][0]["kept_from_previous_school"] is False


def test_a_producer_cannot_emit_an_invalid_payload():
    bad = dict(ACCOUNT, state="activated", children=[dict(ACCOUNT["children"][0], legal_rank=3)])
    with pytest.raises(InvalidEvent) as raised:
        new_event("account.created", {"account": bad}, producer="accounts", school_uai="0541234X")
    assert set(raised.value.errors["account"]) == {"state", "children"}
    assert raised.value.errors["account"]["children"] == {0: {"legal_rank": ["Must be one of: 1, 2."]}}


def test_an_unknown_event_type_is_refused():
    with pytest.raises(InvalidEvent, match="unknown event type 'account.exploded'"):
        new_event("account.exploded", {}, producer="accounts", school_uai=None)


@pytest.mark.parametrize("change,field", [
    ({"id": "not-a-uuid"}, "id"),
    ({"school_uai": "12345"}, "school_uai"),
    ({"producer": "somebody"}, "producer"),
    ({"occurred_at": "2026-11-25T10:00:00"}, "occurred_at"),  # no time zone
])
def test_a_consumer_refuses_a_malformed_envelope(change, field):
    message = new_event(
        "account.created", {"account": ACCOUNT}, producer="accounts", school_uai="0541234X"
    ).to_message()
    message.update(change)
    with pytest.raises(InvalidEvent) as raised:
        parse_event(message)
    assert field in raised.value.errors


def test_a_consumer_refuses_a_valid_envelope_with_a_broken_payload():
    message = new_event(
        "account.created", {"account": ACCOUNT}, producer="accounts", school_uai="0541234X"
    ).to_message()
    del message["payload"]["account"]["login"]
    with pytest.raises(InvalidEvent, match="invalid account.created payload"):
        parse_event(message)


def test_a_consumer_ignores_fields_it_does_not_know_in_the_envelope_and_at_every_level_of_the_payload():
    message = new_event(
        "account.created", {"account": ACCOUNT}, producer="accounts", school_uai="0541234X"
    ).to_message()
    message["trace_id"] = "4bf92f3577b34da6"  # fields a newer producer added
    message["payload"]["batch_label"] = "Rentrée"
    message["payload"]["account"]["display_name"] = "Jean Dupont"
    message["payload"]["account"]["children"][0]["classroom"] = "B12"
    parsed = parse_event(message)
    assert parsed.payload["account"]["login"] == "jean.dupont"
    assert "batch_label" not in parsed.payload and "display_name" not in parsed.payload["account"]
    assert "classroom" not in parsed.payload["account"]["children"][0]


def test_a_producer_cannot_emit_a_field_its_schema_does_not_know():
    misspelt = dict(ACCOUNT, children=[dict(ACCOUNT["children"][0], legal_rnak=1)])
    with pytest.raises(InvalidEvent) as raised:
        new_event("account.created", {"account": misspelt}, producer="accounts", school_uai="0541234X")
    assert raised.value.errors == {"account": {"children": {0: {"legal_rnak": ["Unknown field."]}}}}


def test_every_event_type_has_a_consumer_queue():
    """The outbox retries an event no queue takes (unroutable) forever: every type has a consumer."""
    routed = {key for subscription in all_subscriptions() for key in subscription.routing_keys}
    assert routed == EVENT_TYPES


# --- each event type has an owner; a process loads only its own service ---------------------------

def test_each_event_type_is_published_by_one_service_at_most():
    owners: dict[str, list[str]] = {}
    for spec in discover_services().values():
        for event_type in spec.publishes:
            owners.setdefault(event_type, []).append(spec.name)
    assert {event_type: names for event_type, names in owners.items() if len(names) > 1} == {}


def test_every_event_type_a_service_consumes_has_a_producer():
    specs = discover_services().values()
    published = set().union(*(spec.publishes for spec in specs))
    consumed = set().union(*(spec.consumes for spec in specs))
    assert consumed - published == set()


def test_a_service_handles_exactly_the_events_it_declares_it_consumes():
    for spec in discover_services().values():
        assert set(spec.handlers) == spec.consumes, spec.name


def test_a_service_cannot_emit_an_event_it_does_not_own(tmp_path):
    runtime = ServiceRuntime(load_service("portal"), settings_for(tmp_path))
    runtime.migrate()
    with runtime.uow() as uow, pytest.raises(ValueError, match="portal does not publish account.created"):
        uow.emit("account.created", {"account": ACCOUNT}, school_uai="0541234X")
    runtime.dispose()


@pytest.mark.parametrize("service", sorted(service_names()))
def test_a_web_process_loads_only_its_own_service(service, tmp_path):
    """`gunicorn ts_<name>.wsgi:app` imports no other service (nor the notifier's PDF engine)."""
    others = sorted(f"ts_{name}" for name in service_names() - {service})
    heavy = [] if service == "notifier" else ["xhtml2pdf", "reportlab"]
    script = (f"import sys, ts_{service}.wsgi\n"
              f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(others + heavy)!r}))")
    env = {**os.environ, **environment_for(settings_for(tmp_path))}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
