"""Failed sign-ins are counted per login and per client address; past a limit, that login or
address is locked for a while (stored in the database, so every process sees it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ts_accounts.adapters.orm import ThrottleCounter
from ts_accounts.service_layer.errors import AccountsError


@dataclass(frozen=True)
class Limit:
    failures: int
    window: timedelta
    lock: timedelta


PER_LOGIN = Limit(failures=5, window=timedelta(minutes=15), lock=timedelta(minutes=15))
# Higher: a school or a family shares one address behind a NAT.
PER_ADDRESS = Limit(failures=50, window=timedelta(minutes=15), lock=timedelta(minutes=15))


class Throttled(AccountsError):
    def __init__(self, retry_after: timedelta):
        minutes = max(1, int(retry_after.total_seconds() // 60) + (1 if retry_after.total_seconds() % 60 else 0))
        super().__init__(f"Trop de tentatives infructueuses. Réessayez dans {minutes} minute(s).")
        self.retry_after = retry_after


def keys(kind: str, login: str, address: str | None) -> list[tuple[str, Limit]]:
    result = [(f"{kind}:login:{(login or '').strip().lower()}", PER_LOGIN)]
    if address:
        result.append((f"{kind}:address:{address}", PER_ADDRESS))
    return result


def check(session: Session, throttle_keys: list[tuple[str, Limit]], now: datetime) -> None:
    for key, _ in throttle_keys:
        counter = session.get(ThrottleCounter, key)
        if counter is not None and counter.locked_until is not None and counter.locked_until > now:
            raise Throttled(counter.locked_until - now)


def record_failure(session: Session, throttle_keys: list[tuple[str, Limit]], now: datetime) -> None:
    for key, limit in throttle_keys:
        counter = session.get(ThrottleCounter, key)
        if counter is None:
            counter = ThrottleCounter(key=key, failures=0, window_started_at=now)
            session.add(counter)
        if now - counter.window_started_at > limit.window:
            counter.failures, counter.window_started_at = 0, now
        counter.failures += 1
        if counter.failures >= limit.failures:
            counter.locked_until = now + limit.lock
            counter.failures, counter.window_started_at = 0, now


def record_success(session: Session, throttle_keys: list[tuple[str, Limit]]) -> None:
    """A successful sign-in clears the login's counter (not the address's)."""
    key, _ = throttle_keys[0]
    counter = session.get(ThrottleCounter, key)
    if counter is not None:
        session.delete(counter)
