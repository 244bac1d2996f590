"""The event catalogue: one marshmallow schema per (event type, version).

Routing keys are `<aggregate>.<event>`, in the past tense. A consumer relies on nothing but what
is written here, so a payload carries every field its readers need (no call back to the
producer). Secrets never travel in clear: the only one, a temporary password, travels encrypted
(`ts_shared.crypto`) inside `notification.requested`.

Producers load payloads with these schemas as they are (an unknown field is refused: a misspelt
field fails where the event is made); consumers with `unknown=EXCLUDE` at every level, so that an
optional field added by a newer producer does not make them refuse the event. What may change
without a new version: docs/events.md.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

UAI_PATTERN = r"^[0-9]{7}[A-Z]$"

ACCOUNT_KINDS = ("student", "guardian")
ACCOUNT_STATES = ("not_notified", "notified", "activating", "used")
NOTIFICATION_CHANNELS = ("paper", "email")
ACCOUNT_DELETION_REASONS = (
    "expired_not_activated",  # B7: not activated 3 months after notification
    "expired_unused",  # B7: activated but unused for a year
    "replaced",  # E2: staff created a new account, the old login is closed
    "merged",  # H8: its children now hang off another account
)
LETTER_CASES = (
    "guardian_new",
    "guardian_activating",
    "guardian_used_new_password",
    "guardian_used_reminder",
    "guardian_continuity",
    "student_new",
    "student_used_new_password",
    "student_used_reminder",
    "student_continuity",
)


class Nested(fields.Nested):
    """A nested object that treats unknown fields as the schema at the top does, however deep
    (marshmallow applies `unknown` to the top level only)."""

    @property
    def schema(self) -> Schema:
        schema = super().schema
        assert schema is not None and self.root is not None  # bound to a field of a schema by now
        schema.unknown = self.root.unknown
        return schema


class AccountChildSchema(Schema):
    """Whom the account serves: a student (student account), or a guardian of a student."""

    school_uai = fields.String(required=True, validate=validate.Regexp(UAI_PATTERN))
    student_id = fields.String(required=True, validate=validate.Length(min=1, max=40))  # SIECLE ELEVE_ID
    guardian_id = fields.String(load_default=None, allow_none=True)  # SIECLE PERSONNE_ID
    legal_rank = fields.Integer(load_default=None, allow_none=True, validate=validate.OneOf((1, 2)))
    division = fields.String(load_default=None, allow_none=True)
    mef_code = fields.String(load_default=None, allow_none=True)
    mef_label = fields.String(load_default=None, allow_none=True)  # the MEF's short label (« 3EME »)
    mefstat = fields.String(load_default=None, allow_none=True)
    kept_from_previous_school = fields.Boolean(load_default=False)


class AccountSnapshotSchema(Schema):
    """An account as it is after the change the event reports. `version` grows by one with every
    change, so a read model can ignore an older snapshot that arrives late."""

    account_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    kind = fields.String(required=True, validate=validate.OneOf(ACCOUNT_KINDS))
    login = fields.String(required=True, validate=validate.Length(min=1, max=100))
    state = fields.String(required=True, validate=validate.OneOf(ACCOUNT_STATES))
    notified_at = fields.AwareDateTime(load_default=None, allow_none=True)
    notification_mode = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(NOTIFICATION_CHANNELS)
    )
    activated_at = fields.AwareDateTime(load_default=None, allow_none=True)
    last_login_at = fields.AwareDateTime(load_default=None, allow_none=True)
    access_refused = fields.Boolean(load_default=False)
    closed = fields.Boolean(load_default=False)
    # The couples (or the student) the account serves now; empty once they have all ended.
    children = fields.List(Nested(AccountChildSchema), required=True)


class AccountChangedSchema(Schema):
    """account.created / updated / notified / activation_started / activated."""

    account = Nested(AccountSnapshotSchema, required=True)


class AccountDeletedSchema(Schema):
    account = Nested(AccountSnapshotSchema, required=True)
    reason = fields.String(required=True, validate=validate.OneOf(ACCOUNT_DELETION_REASONS))


class AccountMergedSchema(Schema):
    """H8: `absorbed_account_id`'s children now hang off `account`."""

    account = Nested(AccountSnapshotSchema, required=True)
    absorbed_account_id = fields.String(required=True)


class UsefulLinkSchema(Schema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=200))
    url = fields.Url(required=True, schemes={"http", "https"})


class SchoolSettingsChangedSchema(Schema):
    """The whole portal-facing settings of a school after a change (C2, D1, D2, D4, D5): the
    portal's read model replaces its copy when `settings_version` is newer."""

    settings_version = fields.Integer(required=True, validate=validate.Range(min=1))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    academy_code = fields.String(required=True, validate=validate.Length(min=1, max=10))
    # What the letters print: « Académie de … », « <city>, le … », the head's signature.
    academy_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    city = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    head_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    services_activated = fields.Boolean(required=True)
    welcome_message_html = fields.String(load_default="", validate=validate.Length(max=20000))
    open_services = fields.List(fields.String(), load_default=list)
    # code -> label of the academy's own services (national ones are known by every service).
    service_labels = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    # code -> address of the academy services that have one (H9: where the portal's page leads).
    service_urls = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    letter_type = fields.String(
        load_default="teleservices", validate=validate.OneOf(("teleservices", "mixed", "ent_only"))
    )
    ent_url = fields.String(load_default=None, allow_none=True)
    contact_email = fields.Email(load_default=None, allow_none=True)
    address_lines = fields.List(fields.String(), load_default=list)
    phone = fields.String(load_default=None, allow_none=True)
    useful_links = fields.List(Nested(UsefulLinkSchema), load_default=list)


FAMILY_EMAILS = (
    "confirm_email",  # H2/H3/H6: the link that confirms an address
    "forgot_login",  # H4: every login attached to a confirmed address
    "forgot_password",  # H5: the reference and the link to choose a new password
    "staff_message",  # E1/E2: a free email written by the school (« Écrire un courriel »)
    "access_continuity",  # B8: the account now serves the student's new school
)


class FamilyEmailRequestedSchema(Schema):
    """An email to a family that the notifier sends. The link token travels encrypted with the
    event key (ts_shared.crypto), like temporary passwords; only its hash is kept by accounts."""

    template = fields.String(required=True, validate=validate.OneOf(FAMILY_EMAILS))
    to = fields.Email(required=True)
    recipient_name = fields.String(required=True)
    account_id = fields.String(load_default=None, allow_none=True)
    logins = fields.List(fields.String(), load_default=list)
    reference = fields.String(load_default=None, allow_none=True)
    link_token_encrypted = fields.String(load_default=None, allow_none=True)
    expires_at = fields.AwareDateTime(load_default=None, allow_none=True)
    # staff_message only: what the school wrote, and its name as the sender.
    subject = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    body = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10000))
    school_name = fields.String(load_default=None, allow_none=True)  # access_continuity too: the new school
    # access_continuity only: the school the account served until now, and the student concerned.
    previous_school_name = fields.String(load_default=None, allow_none=True)
    student_name = fields.String(load_default=None, allow_none=True)


class PostalAddressSchema(Schema):
    lines = fields.List(fields.String(), required=True)
    postal_code = fields.String(load_default=None, allow_none=True)
    city = fields.String(load_default=None, allow_none=True)
    country = fields.String(load_default=None, allow_none=True)


class RecipientSchema(Schema):
    civility = fields.String(load_default=None, allow_none=True)
    last_name = fields.String(required=True)
    first_name = fields.String(required=True)
    email = fields.String(load_default=None, allow_none=True)
    address = Nested(PostalAddressSchema, load_default=None, allow_none=True)


class StudentRefSchema(Schema):
    student_id = fields.String(required=True)
    last_name = fields.String(required=True)
    first_name = fields.String(required=True)
    birth_date = fields.Date(load_default=None, allow_none=True)
    division = fields.String(load_default=None, allow_none=True)


class NotificationRequestedSchema(Schema):
    """One recipient of a notification batch (E1, F1, E2). The notifier renders and sends it,
    then answers with notification.delivered or notification.failed for `delivery_id`."""

    batch_id = fields.String(required=True)
    delivery_id = fields.String(required=True)
    batch_size = fields.Integer(required=True, validate=validate.Range(min=1))
    batch_label = fields.String(load_default="Notification", validate=validate.Length(max=200))
    requested_by = fields.String(load_default=None, allow_none=True)  # the staff login, for the batch page
    # Which console population the batch belongs to (who may follow it): guardians or students.
    population = fields.String(load_default="guardians", validate=validate.OneOf(("guardians", "students")))
    channel = fields.String(required=True, validate=validate.OneOf(NOTIFICATION_CHANNELS))
    letter_case = fields.String(required=True, validate=validate.OneOf(LETTER_CASES))
    account = Nested(AccountSnapshotSchema, required=True)
    recipient = Nested(RecipientSchema, required=True)
    student = Nested(StudentRefSchema, required=True)
    # Fernet token of the temporary password, or None when the letter only reminds the login.
    temporary_password_encrypted = fields.String(load_default=None, allow_none=True)


class SkippedRecipientSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    student_id = fields.String(required=True)
    guardian_id = fields.String(load_default=None, allow_none=True)


class NotificationBatchRequestedSchema(Schema):
    """A notification batch as staff launched it (E1, F1, E2): how many recipients follow (one
    notification.requested each, possibly none) and who could not be notified, and why — kept
    in the batch's recap for good."""

    batch_id = fields.String(required=True)
    batch_size = fields.Integer(required=True, validate=validate.Range(min=0))
    batch_label = fields.String(load_default="Notification", validate=validate.Length(max=200))
    requested_by = fields.String(load_default=None, allow_none=True)
    population = fields.String(load_default="guardians", validate=validate.OneOf(("guardians", "students")))
    skipped = fields.List(Nested(SkippedRecipientSchema), load_default=list)


class ClassListRowSchema(Schema):
    student_id = fields.String(required=True)
    last_name = fields.String(required=True)
    first_name = fields.String(required=True)
    division = fields.String(load_default=None, allow_none=True)
    birth_date = fields.Date(required=True)
    login = fields.String(load_default=None, allow_none=True)
    # The temporary password of the letters (account Notifié), sealed with the event key;
    # otherwise `password_note` says « ***** » (used) or « Compte à notifier » (no letter yet).
    temporary_password_encrypted = fields.String(load_default=None, allow_none=True)
    password_note = fields.String(load_default=None, allow_none=True)
    notified_at = fields.AwareDateTime(load_default=None, allow_none=True)
    state = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ACCOUNT_STATES))
    last_login_at = fields.AwareDateTime(load_default=None, allow_none=True)


class ClassListRequestedSchema(Schema):
    """F3: the account list of a division or group, to hand out in class (PDF and CSV)."""

    batch_id = fields.String(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    requested_by = fields.String(load_default=None, allow_none=True)
    rows = fields.List(Nested(ClassListRowSchema), required=True)


class NotificationDeliveredSchema(Schema):
    batch_id = fields.String(required=True)
    delivery_id = fields.String(required=True)
    account_id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(NOTIFICATION_CHANNELS))
    delivered_at = fields.AwareDateTime(required=True)


class NotificationFailedSchema(Schema):
    batch_id = fields.String(required=True)
    delivery_id = fields.String(required=True)
    account_id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(NOTIFICATION_CHANNELS))
    error = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ServiceAccessedSchema(Schema):
    """G3, H7: a family opened a service's tile on the portal (the school is the envelope's). No
    personal data: who opened it is not said, only for which kind of account, which MEF and when
    (the statistics count accesses per month, per service and per MEFSTAT)."""

    kind = fields.String(required=True, validate=validate.OneOf(ACCOUNT_KINDS))
    service_code = fields.String(required=True, validate=validate.Length(min=1, max=50))
    mefstat = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    mef_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    month = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{4}-(0[1-9]|1[0-2])$"))  # Paris time
    accessed_at = fields.AwareDateTime(required=True)


class ContactMessageRequestedSchema(Schema):
    """H10: a family wrote to its school from the portal's contact page. The notifier sends it to
    the address the school chose (D4), with the family's confirmed address as Reply-To, and a copy
    to the family from the no-reply sender."""

    to = fields.Email(required=True)
    school_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    account_names = fields.String(required=True, validate=validate.Length(min=1, max=500))
    login = fields.String(required=True, validate=validate.Length(min=1, max=100))
    children = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list)
    reply_to = fields.Email(load_default=None, allow_none=True)  # the family's confirmed address
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    sent_at = fields.AwareDateTime(required=True)


class StaffActionRecordedSchema(Schema):
    """J2: a staff action done in another service than accounts (a letter text edited, a file of
    passwords downloaded), for the audit log that accounts keeps. The school is the envelope's."""

    staff_login = fields.String(required=True, validate=validate.Length(min=1, max=100))
    staff_id = fields.Integer(load_default=None, allow_none=True)
    client_address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    action = fields.String(required=True, validate=validate.Length(min=1, max=60))
    summary = fields.String(required=True, validate=validate.Length(min=1, max=500))
    target = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    detail = fields.Dict(keys=fields.String(), load_default=dict)
    at = fields.AwareDateTime(required=True)


EVENT_SCHEMAS: dict[tuple[str, int], Schema] = {
    ("account.created", 1): AccountChangedSchema(),
    ("account.updated", 1): AccountChangedSchema(),
    ("account.notified", 1): AccountChangedSchema(),
    ("account.activation_started", 1): AccountChangedSchema(),
    ("account.activated", 1): AccountChangedSchema(),
    ("account.deleted", 1): AccountDeletedSchema(),
    ("account.merged", 1): AccountMergedSchema(),
    ("school.settings_changed", 1): SchoolSettingsChangedSchema(),
    ("notification.requested", 1): NotificationRequestedSchema(),
    ("notification.batch_requested", 1): NotificationBatchRequestedSchema(),
    ("class_list.requested", 1): ClassListRequestedSchema(),
    ("notification.delivered", 1): NotificationDeliveredSchema(),
    ("notification.failed", 1): NotificationFailedSchema(),
    ("portal.service_accessed", 1): ServiceAccessedSchema(),
    ("contact_message.requested", 1): ContactMessageRequestedSchema(),
    ("family_email.requested", 1): FamilyEmailRequestedSchema(),
    ("staff_action.recorded", 1): StaffActionRecordedSchema(),
}

EVENT_TYPES = frozenset(event_type for event_type, _ in EVENT_SCHEMAS)
