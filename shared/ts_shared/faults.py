"""Crash points for fault-injection tests: a process started with `TS_CRASH_POINT=<name>` kills
itself (SIGKILL, no clean-up) when it reaches that point. Unset in every real deployment."""
from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("TS_CRASH_POINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
