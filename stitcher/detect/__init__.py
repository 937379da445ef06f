"""Finding ad breaks in a live media playlist, in every SCTE-35 cue format an origin may use.

`detect(playlist)` reads the cue tags of one `MediaPlaylist` and returns a `Detection`: the
`signals` (one per cue tag), the `breaks` they describe and the `problems` met on the way;
`fold(signals)` folds signals gathered from several reloads the same way. One module per format
family (`daterange`, `cue_out` with OATCLS, `scte35_tags` with SPLICEPOINT); docs/detection.md
says how each is read and how break ids stay stable across reloads. Pure: no I/O.
"""

from stitcher.detect.findings import (
    EARLY_TOLERANCE,
    FORMATS,
    DetectedBreak,
    Detection,
    Signal,
    fold,
)
from stitcher.detect.scan import breaks, detect, signals
from stitcher.playlist import CUE_TAGS

__all__ = [
    "CUE_TAGS",
    "DetectedBreak",
    "Detection",
    "EARLY_TOLERANCE",
    "FORMATS",
    "Signal",
    "breaks",
    "detect",
    "fold",
    "signals",
]
