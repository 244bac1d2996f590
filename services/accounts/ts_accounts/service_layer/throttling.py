"""Counters of failed sign-ins and of recovery requests; past a limit, what they count is locked
for a while (stored in the database, so every process sees it).

A sign-in is counted per login *from one client address*: one attacker guessing a head of
school's password locks only themselves out, never the head at school. The address has its own,
higher limit (a school or a family shares one address behind a NAT), and the login a much higher
one across every address, against guessing spread over many machines.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ts_accounts.adapters.orm import ThrottleCounter
from ts_accounts.service_layer.errors import AccountsError
from ts_shared.db import insert_for


@dataclass(frozen=True)
class Limit:
    failures: int
    window: timedelta
    lock: timedelta


PER_LOGIN_FROM_ADDRESS = Limit(failures=5, window=timedelta(minutes=15), lock=timedelta(minutes=15))
PER_ADDRESS = Limit(failures=50, window=timedelta(minutes=15), lock=timedelta(minutes=15))
PER_LOGIN_ANYWHERE = Limit(failures=100, window=timedelta(minutes=15), lock=timedelta(minutes=15))
# A check made inside a signed-in session (the current password): the login is enough.
PER_LOGIN = PER_LOGIN_FROM_ADDRESS

# Recovery (H4, H5): requests, failed or not. A login or an address gets a few emails an hour;
# an unknown one is counted the same (the limit tells nothing about existence).
RECOVERY_PER_TARGET = Limit(failures=3, window=timedelta(hours=1), lock=timedelta(hours=1))
RECOVERY_PER_ADDRESS = Limit(failures=10, window=timedelta(minutes=15), lock=timedelta(minutes=15))
# Emails to one mailbox, whichever logins asked (a family's accounts share an address).
RECOVERY_EMAILS_PER_MAILBOX = Limit(failures=5, window=timedelta(hours=1), lock=timedelta(hours=1))

FAILED_ATTEMPTS = "Trop de tentatives infructueuses."
TOO_MANY_REQUESTS = "Trop de demandes."


class Throttled(AccountsError):
    def __init__(self, retry_after: timedelta, reason: str = FAILED_ATTEMPTS):
        minutes = max(1, int(retry_after.total_seconds() // 60) + (1 if retry_after.total_seconds() % 60 else 0))
        super().__init__(f"{reason} Réessayez dans {minutes} minute(s).")
        self.retry_after = retry_after


Keys = list[tuple[str, Limit]]


def keys(kind: str, login: str, address: str | None) -> Keys:
    """The counters of a sign-in (or of a check of a password): the first one is cleared on
    success."""
    login = (login or "").strip().lower()
    if not address:
        return [(f"{kind}:login:{login}", PER_LOGIN)]
    return [(f"{kind}:login:{login}:from:{address}", PER_LOGIN_FROM_ADDRESS),
            (f"{kind}:address:{address}", PER_ADDRESS),
            (f"{kind}:login:{login}", PER_LOGIN_ANYWHERE)]


def recovery_keys(kind: str, target: str, address: str | None) -> Keys:
    """The counters of a recovery request for `target` (a login, an email address)."""
    result = [(f"recovery-{kind}:{(target or '').strip().lower()}", RECOVERY_PER_TARGET)]
    if address:
        result.append((f"recovery:address:{address}", RECOVERY_PER_ADDRESS))
    return result


def mailbox_key(address: str) -> Keys:
    return [(f"recovery-mailbox:{address.strip().lower()}", RECOVERY_EMAILS_PER_MAILBOX)]


def locked(session: Session, throttle_keys: Keys, now: datetime) -> timedelta | None:
    """How long until the first locked counter of `throttle_keys` opens again, or None."""
    for key, _ in throttle_keys:
        counter = session.get(ThrottleCounter, key)
        if counter is not None and counter.locked_until is not None and counter.locked_until > now:
            return counter.locked_until - now
    return None


def check(session: Session, throttle_keys: Keys, now: datetime, reason: str = FAILED_ATTEMPTS) -> None:
    wait = locked(session, throttle_keys, now)
    if wait is not None:
        raise Throttled(wait, reason)


def record_failure(session: Session, throttle_keys: Keys, now: datetime) -> None:
    """Count one more (a failure, or a request where every request counts). Two requests at once
    both count: the row is inserted if missing, then locked."""
    for key, limit in throttle_keys:
        session.execute(insert_for(session)(ThrottleCounter).values(key=key, failures=0, window_started_at=now)
                        .on_conflict_do_nothing(index_elements=["key"]))
        counter = session.scalars(select(ThrottleCounter).where(ThrottleCounter.key == key)
                                  .with_for_update().execution_options(populate_existing=True)).one()
        if now - counter.window_started_at > limit.window:
            counter.failures, counter.window_started_at = 0, now
        counter.failures += 1
        if counter.failures >= limit.failures:
            counter.locked_until = now + limit.lock
            counter.failures, counter.window_started_at = 0, now


record_request = record_failure


def record_success(session: Session, throttle_keys: Keys) -> None:
    """A successful sign-in clears the counter of that login from that address (not the
    address's, nor the login's across addresses)."""
    key, _ = throttle_keys[0]
    counter = session.get(ThrottleCounter, key)
    if counter is not None:
        session.delete(counter)
