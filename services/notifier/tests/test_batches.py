"""A notification batch in the notifier (E1, F1): paper letters rendered by steps as they arrive
(a progress bar that moves), one PDF in alphabetical order at the end, and a recap that keeps, for
good, who could not be notified and why."""
from __future__ import annotations

import io
import uuid

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from support.settings import settings_for
from ts_notifier.adapters.batches import Delivery, GeneratedFile, NotificationBatch
from ts_notifier.service_layer.batches import LETTERS_PER_STEP, receive_batch_request, receive_notification
from ts_notifier.service_layer.files import files_folder
from ts_notifier.service_layer.follow_up import progress
from ts_notifier.service_layer.school_settings import record_school_settings
from ts_shared.crypto import SecretBox
from ts_shared.messaging.envelope import new_event, parse_event
from ts_shared.runtime.process import Platform

UAI = "0541234X"


@pytest.fixture
def notifier(tmp_path):
    platform = Platform(settings_for(tmp_path))
    runtime = platform.runtime("notifier")
    with runtime.uow() as uow:
        record_school_settings(uow.session, UAI, {
            "settings_version": 1, "name": "Collège Jean Moulin", "academy_code": "NCY", "letter_type": "teleservices",
            "ent_url": None, "open_services": ["notes"], "address_lines": ["1 rue de la Paix", "54000 NANCY"],
            "phone": "03 83 00 00 00"})
        uow.commit()
    yield runtime
    platform.dispose()


def received(event_type: str, payload: dict):
    """The event as a consumer gets it."""
    return parse_event(new_event(event_type, payload, producer="accounts", school_uai=UAI).to_message())


def letter_request(runtime, batch_id: str, size: int, number: int) -> dict:
    student_id, name = f"{1000 + number}", f"ELEVE{number:03d}"
    return {
        "batch_id": batch_id, "delivery_id": str(uuid.uuid4()), "batch_size": size, "batch_label": "Élèves de 6A",
        "requested_by": "chef.moulin", "population": "students", "channel": "paper", "letter_case": "student_new",
        "account": {"account_id": f"acc-{number}", "version": 2, "kind": "student", "login": f"eleve{number}",
                    "state": "not_notified", "children": [{"school_uai": UAI, "student_id": student_id}]},
        "recipient": {"civility": None, "last_name": name, "first_name": "Léa", "email": None, "address": None},
        "student": {"student_id": student_id, "last_name": name, "first_name": "Léa", "birth_date": "2013-03-12",
                    "division": "6A"},
        "temporary_password_encrypted": SecretBox(runtime.settings.event_key).seal(f"PASS{number:04d}"),
    }


def deliver(runtime, event_type: str, payload: dict) -> None:
    with runtime.uow() as uow:
        if event_type == "notification.requested":
            receive_notification(uow, received(event_type, payload), None)  # paper: nothing to prepare
        else:
            receive_batch_request(uow, received(event_type, payload))
        uow.commit()


def state_of(runtime, batch_id: str):
    with runtime.uow() as uow:
        return progress(uow.session, uow.session.get(NotificationBatch, batch_id))


def test_paper_letters_are_printed_by_steps_then_put_in_alphabetical_order_in_one_pdf(notifier):
    batch_id, size = str(uuid.uuid4()), 2 * LETTERS_PER_STEP + 5
    numbers = list(range(size))[::-1]  # they arrive in the reverse of the letters' order
    deliver(notifier, "notification.batch_requested", {"batch_id": batch_id, "batch_size": size,
                                                       "batch_label": "Élèves de 6A", "population": "students"})
    seen = []
    for count, number in enumerate(numbers, start=1):
        deliver(notifier, "notification.requested", letter_request(notifier, batch_id, size, number))
        state = state_of(notifier, batch_id)
        seen.append(state.percent)
        if count < size:
            assert state.files == [] and state.batch.completed_at is None  # parts are never handed out
    # The bar moved in steps a person sees, not 0 % then 100 %.
    assert seen[LETTERS_PER_STEP - 2] == 0 and 0 < seen[LETTERS_PER_STEP - 1] < seen[2 * LETTERS_PER_STEP - 1] < 100
    assert seen[-1] == 100
    state = state_of(notifier, batch_id)
    [pdf] = state.files
    assert state.counts == {"printed": size}
    content = (files_folder(notifier.settings) / pdf.id).read_bytes()
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]
    assert len(pages) == size
    order = [next(n for n in range(size) if f"ELEVE{n:03d}" in text) for text in pages]
    assert order == sorted(range(size)) and f"PASS{order[0]:04d}" in pages[0]
    with notifier.uow() as uow:  # the parts are gone, every request cleared (J3)
        parts = uow.session.scalars(select(GeneratedFile).where(GeneratedFile.kind == "part")).all()
        assert parts and all(part.deleted_at is not None for part in parts)
        assert not any((files_folder(notifier.settings) / part.id).exists() for part in parts)
        assert {delivery.request for delivery in uow.session.scalars(select(Delivery))} == {None}


def test_who_could_not_be_notified_stays_in_the_recap_of_the_batch(notifier):
    batch_id = str(uuid.uuid4())
    skipped = [{"name": "Hélène DUPONT (responsable de Léa DUPONT)", "reason": "pas d'adresse électronique valide "
                "dans SIECLE", "student_id": "1001", "guardian_id": "9001"},
               {"name": "Jean MARTIN (responsable de Paul MARTIN)",
                "reason": "l'accès aux services en ligne a été retiré", "student_id": "1002", "guardian_id": "9003"}]
    deliver(notifier, "notification.batch_requested", {"batch_id": batch_id, "batch_size": 1,
                                                       "batch_label": "Responsables de 6A", "skipped": skipped})
    request = letter_request(notifier, batch_id, 1, 7)
    deliver(notifier, "notification.requested", request)
    state = state_of(notifier, batch_id)
    assert state.batch.completed_at is not None and state.counts == {"printed": 1}
    assert [(s.recipient_name, s.reason, s.student_id, s.guardian_id) for s in state.skipped] == [
        (s["name"], s["reason"], s["student_id"], s["guardian_id"]) for s in skipped]


def test_a_batch_where_nobody_could_be_notified_is_complete_with_its_recap(notifier):
    batch_id = str(uuid.uuid4())
    deliver(notifier, "notification.batch_requested", {
        "batch_id": batch_id, "batch_size": 0, "batch_label": "Responsables de 6B",
        "skipped": [{"name": "Hélène DUPONT", "reason": "pas de compte", "student_id": "1001", "guardian_id": "9001"}]})
    state = state_of(notifier, batch_id)
    assert state.batch.completed_at is not None and state.percent == 100 and len(state.skipped) == 1
