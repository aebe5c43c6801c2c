"""The `fake` provider: appends each SMS as one JSON line to $DZIENNIK_VAR_DIR/sms-outbox.jsonl.

Like SMSAPI with check_idx=1, a second send with an idx it has seen returns the first message's
id instead of sending again. A file lock keeps several notify processes from interleaving lines.
"""
from __future__ import annotations

import fcntl
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

from services.notify.providers import Sent


class FakeSmsProvider:
    name = "fake"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, *, idx: str, to: str, body: str, parts: int) -> Sent:
        with open(self.path, "a+", encoding="utf-8") as outbox:
            fcntl.flock(outbox, fcntl.LOCK_EX)
            outbox.seek(0)
            for line in outbox:
                sent = json.loads(line)
                if sent["idx"] == idx:
                    return Sent(sent["id"])
            message_id = uuid.uuid4().hex
            record = {"id": message_id, "idx": idx, "to": to, "message": body, "parts": parts, "sent_at": datetime.now(timezone.utc).isoformat()}
            outbox.write(json.dumps(record, ensure_ascii=False) + "\n")
            outbox.flush()
            return Sent(message_id)
