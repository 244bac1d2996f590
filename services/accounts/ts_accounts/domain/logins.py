"""B2: logins of the academy directory.

`prénom.nom`, lower-case ASCII, spaces and apostrophes folded to `-`; on a collision in the
academy an index is appended (jean.dupont, jean.dupont1, jean.dupont2, …). An academy may choose
the older `p.nom` format (first letter of the first name). A login, once given, never changes and
is never given again, even after its account is closed.
"""
from __future__ import annotations

import re
from enum import StrEnum

from ts_accounts.domain.names import login_part

MAX_BASE_LENGTH = 60
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)?[0-9]*$")


class LoginFormat(StrEnum):
    FIRST_DOT_LAST = "first.last"
    INITIAL_DOT_LAST = "f.last"


def login_base(first_name: str, last_name: str, login_format: LoginFormat = LoginFormat.FIRST_DOT_LAST) -> str:
    """The login before any collision index. A guardian without a first name (an institution,
    e.g. « ASE 54 ») gets the last name alone; names that fold to nothing (another script) still
    give a usable login. The index is appended after the base, so a base never ends in a digit."""
    first, last = login_part(first_name), login_part(last_name) or "x"
    if first and login_format == LoginFormat.INITIAL_DOT_LAST:
        first = first[0]
    base = f"{first}.{last}" if first else last
    return base[:MAX_BASE_LENGTH].rstrip("-.0123456789") or "x"


def login_with_index(base: str, index: int) -> str:
    return base if index == 0 else f"{base}{index}"


def is_valid_login(login: str) -> bool:
    return bool(_LOGIN.match(login)) and login.isascii()


class LoginAllocator:
    """Hands out logins for one academy: `taken` maps a base to the highest index already used
    (-1 when none). Feed it what the directory holds, then ask for new logins."""

    def __init__(self, login_format: LoginFormat = LoginFormat.FIRST_DOT_LAST):
        self.login_format = login_format
        self._highest: dict[str, int] = {}

    def known(self, base: str) -> bool:
        return base in self._highest

    def record_taken(self, base: str, index: int) -> None:
        self._highest[base] = max(self._highest.get(base, -1), index)

    def mark_base_checked(self, base: str) -> None:
        """The directory has no login on this base (so the next one is the bare base)."""
        self._highest.setdefault(base, -1)

    def allocate(self, first_name: str, last_name: str) -> tuple[str, str, int]:
        """(login, base, index) for a new account."""
        base = login_base(first_name, last_name, self.login_format)
        index = self._highest.get(base, -1) + 1
        self._highest[base] = index
        return login_with_index(base, index), base, index
