"""Password hashing: argon2id. Only hashes are ever stored; a clear password lives in memory just
long enough to be hashed or printed."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's recommended argon2id profile (19 MiB, 2 passes): ~20 ms a hash here, so that sign-in
# stays cheap at the September peak while offline guessing stays expensive.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the login is unknown, so that an unknown login costs as much time as a
# wrong password (no user enumeration by timing).
_DUMMY_HASH = _HASHER.hash("unknown-login-placeholder")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def hash_passwords(passwords: Sequence[str]) -> list[str]:
    """Many hashes at once (the temporary passwords of a notification batch), on every core:
    argon2 releases the interpreter lock while it hashes."""
    global _pool
    if len(passwords) < 2:
        return [hash_password(password) for password in passwords]
    with _pool_lock:  # made on first use, so after a web server has forked its workers
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")
    return list(_pool.map(hash_password, passwords))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)
