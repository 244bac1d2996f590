"""The French vocabulary of the staff API's bodies (`Body`, `text`, `flag`…): marshmallow's own
messages are English. Every blueprint of the API builds its bodies with it."""
from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

# A row id in a path: beyond it the database cannot hold it (404 rather than an error).
ROW_ID = "int(max=2147483647)"

REQUIRED = "Ce champ est obligatoire."
NOT_NULL = "Ce champ ne peut pas être vide (null)."


class Body(Schema):
    """A request body: an object of known fields only, refused with French messages."""

    error_messages = {"unknown": "Champ inconnu.", "type": "Le corps de la requête doit être un objet JSON."}


def messages(invalid: str, **more: str) -> dict[str, str | list | dict]:
    """A field's messages in French; `invalid` says what is expected."""
    return {"required": REQUIRED, "null": NOT_NULL, "invalid": invalid, "validator_failed": "Valeur non valide.",
            **more}


def text(max_length: int | None = None, *, required: bool = True, choices=None, **kwargs) -> fields.String:
    """A string (trimmed by the use cases), at most `max_length` characters, or one of `choices`."""
    validators: list[validate.Validator] = []
    if max_length is not None:
        validators.append(validate.Length(max=max_length, error=f"{max_length} caractères au plus."))
    if choices is not None:
        validators.append(validate.OneOf(tuple(choices), error="Valeur non valide : choisissez parmi {choices}."))
    if not required:
        kwargs.setdefault("load_default", None)
        kwargs.setdefault("allow_none", True)
    return fields.String(required=required, validate=validators,
                         error_messages=messages("Une chaîne de caractères est attendue."), **kwargs)


def flag(*, required: bool = True, **kwargs) -> fields.Boolean:
    return fields.Boolean(required=required, error_messages=messages("true ou false est attendu."), **kwargs)


def integer(*, required: bool = True, **kwargs) -> fields.Integer:
    if not required:
        kwargs.setdefault("load_default", None)
        kwargs.setdefault("allow_none", True)
    return fields.Integer(required=required, strict=True, error_messages=messages("Un nombre entier est attendu."),
                          **kwargs)


def a_date(**kwargs) -> fields.Date:
    return fields.Date(required=True, error_messages=messages(
        "Une date au format AAAA-MM-JJ est attendue, par exemple 2026-12-12.",
        format="Une date au format AAAA-MM-JJ est attendue."), **kwargs)


def texts(item: fields.String, **kwargs) -> fields.List:
    return fields.List(item, required=True, error_messages=messages("Une liste est attendue."), **kwargs)


class Amount(fields.String):
    """An amount in euros as staff type it (« 15,50 ») or a JSON number (15.5): passed on as text to
    the use case, which checks it."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)
