"""Failpoints: named places where a test can make the process die as a crash would
(SIGKILL, no cleanup), to prove that a re-run repairs everything.

Set ``RECON_CRASH_AT=<name>``; unset (always, in production) it does nothing.
"""
from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    if os.environ.get("RECON_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
