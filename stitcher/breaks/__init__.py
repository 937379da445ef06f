"""Ad breaks: their records, the discontinuity ledger, and their atomic writes to the KV store.

`record` is pure: a break's record, how it is placed on the origin's segment grid (`plan_break`),
shortened (`shorten`) and read slot by slot (`slot_at`, `returns_at`). `ledger` is the
discontinuity ledger value. `store` (`BreakLedger`) is the only part that does I/O: one
compare-and-set per write. docs/architecture.md says why only the future ever changes.
"""

from stitcher.breaks.ledger import Ledger
from stitcher.breaks.record import (
    BreakError,
    BreakOverlap,
    BreakRecord,
    BreakTooLate,
    Grid,
    plan_break,
    returns_at,
    shorten,
    slot_at,
)
from stitcher.breaks.store import BreakLedger, Retention

__all__ = [
    "BreakError",
    "BreakLedger",
    "BreakOverlap",
    "BreakRecord",
    "BreakTooLate",
    "Grid",
    "Ledger",
    "Retention",
    "plan_break",
    "returns_at",
    "shorten",
    "slot_at",
]
