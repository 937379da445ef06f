"""Simulated viewers: a fleet of asyncio HLS players against any master (or media) playlist URL.

`viewer` is one player (`Viewer`, and `ViewerState`, what it shows the TUI); `interstitials` the
SGAI interstitials a viewer saw and reached; `fleet` the `Fleet` that runs N of them on one
session, clock and validator. How a viewer plays: docs/architecture.md ("Simulated viewers").
"""

from rig.playhead import Playhead, choose_variant, variant_name
from rig.viewers.fleet import REQUEST_TIMEOUT, Fleet, StreamUnavailable
from rig.viewers.viewer import Viewer, ViewerState

__all__ = [
    "Fleet",
    "Viewer",
    "ViewerState",
    "StreamUnavailable",
    "REQUEST_TIMEOUT",
    "variant_name",
    "choose_variant",
    "Playhead",
]
