"""Password hashing: argon2id, for the passwords families and staff choose (and the temporary
passwords of letters printed before they were derived, docs/credentials.md). Only hashes are ever
stored; a clear password lives in memory just long enough to be hashed."""
from __future__ import annotations

import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ts_shared.config import FAST_PASSWORD_HASHING, password_hashing

# OWASP's recommended argon2id profile (19 MiB, 2 passes): ~20 ms a hash here, so that sign-in
# stays cheap at the September peak while offline guessing stays expensive.
# The test suites hash thousands of passwords: they set TS_PASSWORD_HASHING=fast-for-tests (the
# smallest argon2id parameters), which production mode refuses to start with (ts_shared.config).
HASHERS = {
    "strong": PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1),
    FAST_PASSWORD_HASHING: PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
}
_HASHER = HASHERS[password_hashing(os.environ)]
# Verified against when the login is unknown, so that an unknown login costs as much time as a
# wrong password (no user enumeration by timing).
_DUMMY_HASH = _HASHER.hash("unknown-login-placeholder")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)
