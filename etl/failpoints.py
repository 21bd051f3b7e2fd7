"""Failpoints: named places where a test can make the process die as a crash would
(SIGKILL, no cleanup), to prove that a re-run repairs everything.

Set ``RECON_CRASH_AT=<name>``; unset (always, in production) it does nothing.

``RECON_PAUSE_DIR=<folder>`` (deployment tests: a process whose environment is fixed when it
starts) makes the failpoint ``<name>`` hold while the file ``<folder>/<name>`` exists, after
writing its pid to ``<folder>/<name>.reached``: a test can kill the process there, or let it go
by deleting the file. Without that file nothing happens.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def failpoint(name: str) -> None:
    if os.environ.get("RECON_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if pause_dir := os.environ.get("RECON_PAUSE_DIR"):
        hold = Path(pause_dir) / name
        if hold.exists():
            hold.with_name(name + ".reached").write_text(str(os.getpid()))
            while hold.exists():
                time.sleep(0.2)
