"""Crash points for fault-injection tests: a process started with `TS_CRASH_POINT=<name>` kills
itself (SIGKILL, no clean-up) when it reaches that point — the first time, or the n-th time with
`TS_CRASH_POINT=<name>#<n>` (to die in the middle of a batch). Unset in every real deployment."""
from __future__ import annotations

import os
import signal
from collections import Counter

_hits: Counter[str] = Counter()


def crash_point(name: str) -> None:
    wanted = os.environ.get("TS_CRASH_POINT")
    if not wanted:
        return
    point, _, nth = wanted.partition("#")
    if point != name:
        return
    _hits[name] += 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
