"""The statistics snapshot: what accounts exports of a school so that stats can rebuild its
counters from scratch (`tsctl stats rebuild`, after a lost queue) or check them (`tsctl stats
check`). An internal HTTP call (`POST /internal/v1/statistics-snapshot`), never routed by the
gateway; its body follows this schema, which reuses the events' account snapshot: the rebuilt
counters are made of exactly what events would have brought."""
from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from ts_shared.messaging.events import UAI_PATTERN, AccountSnapshotSchema, Nested

STATISTICS_SNAPSHOT_PATH = "/internal/v1/statistics-snapshot"


class StatisticsSnapshotRequest(Schema):
    uai = fields.String(required=True, validate=validate.Regexp(UAI_PATTERN))


class SnapshotSchoolSchema(Schema):
    uai = fields.String(required=True, validate=validate.Regexp(UAI_PATTERN))
    name = fields.String(required=True)
    academy_code = fields.String(required=True)
    settings_version = fields.Integer(required=True)
    service_labels = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class StatisticsSnapshotSchema(Schema):
    """The school and every account that serves someone there now, as the account.* events carry them."""

    school = Nested(SnapshotSchoolSchema, required=True)
    accounts = fields.List(Nested(AccountSnapshotSchema), required=True)


def dump_snapshot(school: dict, accounts: list[dict]) -> dict:
    """The JSON body accounts answers (validated the way producers validate events: no unknown field)."""
    schema = StatisticsSnapshotSchema(unknown=RAISE)
    body = schema.dump({"school": school, "accounts": accounts})
    schema.load(body)
    return body


def load_snapshot(body: dict) -> dict:
    """The body as stats reads it (fields it does not know are ignored, like in events)."""
    return StatisticsSnapshotSchema(unknown=EXCLUDE).load(body)
