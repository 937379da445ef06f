"""The origin's memory of QA splices: posted splices, cancels and early returns, kept on disk.

Scheduled breaks need no storage (they are a function of the config and the epoch), but a
splice posted over HTTP, or a change to a scheduled one, must survive an emulator restart just
as the timeline does. The book is a JSON file under the state dir, rewritten atomically (write
to a temporary file, then rename) on every change. Without a path it lives in memory only.

Side effects: reads and writes its file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from origin_emulator.splices import SCHEDULE_ID_LIMIT, Splice

log = logging.getLogger(__name__)


class SpliceBook:
    def __init__(self, path: Path | None = None):
        self.path = path
        self._splices: dict[str, dict[int, Splice]] = {}
        self._next_id: dict[str, int] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
            for channel, entry in data.get("channels", {}).items():
                self._next_id[channel] = int(entry.get("next_id", SCHEDULE_ID_LIMIT))
                self._splices[channel] = {
                    int(s["event_id"]): Splice(**s) for s in entry.get("splices", [])
                }
        except (OSError, ValueError, TypeError, KeyError) as exc:
            broken = path.with_suffix(".broken")
            log.error(
                "splice book %s is unreadable (%s); moved aside to %s, starting empty",
                path,
                exc,
                broken,
            )
            os.replace(path, broken)
            self._splices, self._next_id = {}, {}

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "channels": {
                channel: {
                    "next_id": self._next_id.get(channel, SCHEDULE_ID_LIMIT),
                    "splices": [dataclasses.asdict(s) for s in splices.values()],
                }
                for channel, splices in self._splices.items()
            }
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, indent=1))
        os.replace(temporary, self.path)

    def splices(self, channel: str) -> list[Splice]:
        return list(self._splices.get(channel, {}).values())

    def get(self, channel: str, event_id: int) -> Splice | None:
        return self._splices.get(channel, {}).get(event_id)

    def allocate_id(self, channel: str) -> int:
        event_id = self._next_id.get(channel, SCHEDULE_ID_LIMIT)
        self._next_id[channel] = SCHEDULE_ID_LIMIT + (
            (event_id + 1 - SCHEDULE_ID_LIMIT) % SCHEDULE_ID_LIMIT
        )
        return event_id

    def put(self, channel: str, splice: Splice) -> None:
        self._splices.setdefault(channel, {})[splice.event_id] = splice
        self._save()

    def remove(self, channel: str, event_id: int) -> None:
        if self._splices.get(channel, {}).pop(event_id, None) is not None:
            self._save()

    def prune(self, channel: str, keep: callable) -> None:
        """Forget splices for which `keep(splice)` is false (they can no longer appear anywhere)."""
        entries = self._splices.get(channel, {})
        stale = [event_id for event_id, splice in entries.items() if not keep(splice)]
        for event_id in stale:
            del entries[event_id]
        if stale:
            self._save()
