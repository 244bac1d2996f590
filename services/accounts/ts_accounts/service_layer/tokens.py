"""One-time links (email confirmation, password reset): a random token goes out by email, only
its SHA-256 is stored; a token works once, before it expires."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ts_accounts.adapters.orm import OneTimeToken
from ts_accounts.domain.credentials import TEMPORARY_PASSWORD_ALPHABET
from ts_accounts.service_layer.errors import AccountsError

CONFIRM_EMAIL = "confirm_email"
RESET_PASSWORD = "reset_password"


class InvalidLink(AccountsError):
    pass


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits: a plain hash is enough (no guessing to slow down).
    return hashlib.sha256(token.encode()).hexdigest()


def new_reference() -> str:
    """The request number a family quotes to the school (H5), e.g. « R-7F3K9QXA »."""
    return "R-" + "".join(secrets.choice(TEMPORARY_PASSWORD_ALPHABET) for _ in range(8))


def issue_token(session: Session, account_id: str, purpose: str, *, now: datetime, lifetime: timedelta,
                email: str | None = None, reference: str | None = None) -> str:
    """A new link for `purpose`; the account's earlier links for it stop working."""
    session.execute(update(OneTimeToken).where(OneTimeToken.account_id == account_id, OneTimeToken.purpose == purpose,
                                               OneTimeToken.used_at.is_(None)).values(used_at=now))
    token = secrets.token_urlsafe(32)
    session.add(OneTimeToken(account_id=account_id, purpose=purpose, token_hash=token_hash(token), email=email,
                             reference=reference, created_at=now, expires_at=now + lifetime))
    return token


def consume_token(session: Session, token: str, purpose: str, *, now: datetime) -> OneTimeToken:
    row = session.scalar(select(OneTimeToken).where(OneTimeToken.token_hash == token_hash(token or ""),
                                                    OneTimeToken.purpose == purpose))
    if row is None or row.used_at is not None:
        raise InvalidLink("Ce lien n'est pas valide ou a déjà été utilisé.")
    if row.expires_at <= now:
        raise InvalidLink("Ce lien a expiré. Faites une nouvelle demande.")
    row.used_at = now
    return row
