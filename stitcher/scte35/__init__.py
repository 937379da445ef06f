"""SCTE-35 through one door: `decode(payload) -> SpliceEvent`.

Every cue the stitcher reads (playlist tags, the `/cue` API, the monitor) goes through `decode`:
base64, `0x`-hex or raw bytes of a splice_info_section in, a frozen `SpliceEvent` (out / in /
cancel / other, event id, duration, splice time) out, or a `Scte35Error` saying what is wrong.
`section` checks the framing and CRC, `bridge` runs threefive on a checked section, `event`
reads what it means. docs/scte35.md says why threefive is wrapped this way. Pure: no I/O.
"""

from stitcher.scte35.event import IN_TYPES, OUT_TYPES, SpliceEvent, decode
from stitcher.scte35.section import COMMAND_NAMES, Scte35Error

__all__ = ["COMMAND_NAMES", "IN_TYPES", "OUT_TYPES", "Scte35Error", "SpliceEvent", "decode"]
