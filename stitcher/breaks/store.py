"""Break writes over the KV store: one compare-and-set on the channel's ledger key and the record.

Keys: `adbreak:{channel}:{eventId}` (the record) and `ledger:{channel}` (the ledger). Two monitors
racing on one cue create one break; overlapping breaks are refused; records live as long as any
window can show them (`Retention`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from stitcher.breaks.ledger import Ledger
from stitcher.breaks.record import BreakError, BreakOverlap, BreakRecord
from stitcher.kv import KV, Absent, Check, Equals, Put

MARGIN = 120.0  # seconds of slack on top of every TTL and index horizon


CAS_RETRIES = 20


def record_key(channel: str, event_id: str) -> str:
    return f"adbreak:{channel}:{event_id}"


def ledger_key(channel: str) -> str:
    return f"ledger:{channel}"


@dataclass(frozen=True)
class Retention:
    """How long records and ledger entries must live: every window that can show them, plus
    caches."""

    window: float  # the longest playlist window of the channel (seconds)
    cache: float = 2.0  # longest Cache-Control max-age of a stitched playlist

    def ttl(self, record: BreakRecord, now: float) -> float:
        return max(1.0, max(record.end, record.sgai_end) - now) + self.window + self.cache + MARGIN

    def horizon(self, now: float) -> float:
        """Points before this can no longer be in any window."""
        return now - self.window - self.cache - MARGIN


class BreakLedger:
    """Atomic break writes over a KV (see the module docstring)."""

    def __init__(self, kv: KV, retention_for):
        self.kv = kv
        self.retention_for = retention_for  # channel -> Retention

    async def ledger(self, channel: str) -> Ledger:
        return Ledger.from_json(await self.kv.get(ledger_key(channel)))

    async def get(self, channel: str, event_id: str) -> BreakRecord | None:
        data = await self.kv.get(record_key(channel, event_id))
        return BreakRecord.from_json(data) if data else None

    async def records(self, channel: str) -> list[BreakRecord]:
        found = await self.kv.list(f"adbreak:{channel}:")
        return sorted(
            (BreakRecord.from_json(v) for v in found.values()), key=lambda r: (r.start, r.event_id)
        )

    async def _write(
        self, record: BreakRecord, now: float, before: BreakRecord | None
    ) -> tuple[BreakRecord, bool]:
        """CAS loop on the ledger key and the record. Create (`before` None): an existing record
        with the same id wins (returns it, False). Update: the stored record must still be
        `before`."""
        retention = self.retention_for(record.channel)
        key = record_key(record.channel, record.event_id)
        for _ in range(CAS_RETRIES):
            raw = await self.kv.get(ledger_key(record.channel))
            ledger = Ledger.from_json(raw)
            if before is None:
                existing = await self.get(record.channel, record.event_id)
                if existing is not None:
                    return existing, False
                clash = ledger.overlapping(record.entry, record.ad_start, record.end)
                if clash is not None:
                    raise BreakOverlap(
                        f"break {record.event_id} would overlap break {clash} on channel"
                        f" {record.channel}"
                    )
            updated = ledger.with_break(record, retention.horizon(now))
            stored = replace(record, ledger_after=updated.total)
            checks: list[Check] = [
                Absent(ledger_key(record.channel))
                if raw is None
                else Equals(ledger_key(record.channel), raw),
                Absent(key) if before is None else Equals(key, before.to_json()),
            ]
            result = await self.kv.atomic(
                [
                    Put(key, stored.to_json(), retention.ttl(stored, now)),
                    Put(ledger_key(record.channel), updated.to_json()),
                ],
                checks,
            )
            if result.committed:
                return stored, True
            if (
                before is not None
                and isinstance(result.failed, Equals)
                and result.failed.key == key
            ):
                raise BreakError(f"break {record.event_id} changed meanwhile; try again")
        raise BreakError(
            f"break {record.event_id}: the ledger of {record.channel} kept changing; try again"
        )

    async def create(self, record: BreakRecord, now: float) -> tuple[BreakRecord, bool]:
        """Create `record` unless a break with its id exists (then return that one,
        created=False)."""
        return await self._write(record, now, None)

    async def update(self, before: BreakRecord, after: BreakRecord, now: float) -> BreakRecord:
        """Replace `before` (early return / cancel); the ledger moves by the change in
        discontinuities."""
        stored, _ = await self._write(after, now, before)
        return stored
