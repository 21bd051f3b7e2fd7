"""A notifier for tests, plugged in with ``RECON_NOTIFIER=tests.airflow.recording:factory``:
each alert becomes one JSON line in the file named by ``RECON_TEST_ALERTS``."""
from __future__ import annotations

import json
import os
from pathlib import Path


class RecordingNotifier:
    def __init__(self, path: Path):
        self.path = path

    def send(self, alert) -> None:
        record = {"kind": alert.kind, "subject": alert.subject, "body": alert.body,
                  "business_date": alert.business_date.isoformat() if alert.business_date else None,
                  "location": alert.location}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def factory(settings) -> RecordingNotifier:
    return RecordingNotifier(Path(os.environ["RECON_TEST_ALERTS"]))


def sent(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]
