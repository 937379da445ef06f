"""Simulated viewers: a fleet of asyncio HLS players against any master (or media) playlist URL."""

from rig.viewers.viewer import (
    REQUEST_TIMEOUT,
    Fleet,
    Playhead,
    StreamUnavailable,
    ViewerState,
    choose_variant,
    variant_name,
)

__all__ = [
    "Fleet",
    "ViewerState",
    "StreamUnavailable",
    "REQUEST_TIMEOUT",
    "variant_name",
    "choose_variant",
    "Playhead",
]
