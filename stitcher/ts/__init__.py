"""MPEG-TS on the bytes: measure segments, shift their clocks, chain and flag their counters.

One reader for every part of the project that reads transport streams: `packets` (the 90 kHz
clock, timestamps and PES headers), `scan` (what a segment holds: streams, counters, first and last
timestamps, audio frames, the H.264 codec), `surgery` (clock shifts, counter chaining, the
discontinuity flag), `timing` (sound against picture across a splice, docs/splices.md). Pure.
"""

from stitcher.ts.packets import (
    AAC_SAMPLES_PER_FRAME,
    CLOCK,
    NULL_PID,
    PACKET,
    PAT_PID,
    PTS_MODULO,
    TsError,
    whole_aac_frames,
)
from stitcher.ts.scan import StreamInfo, TsInfo, scan
from stitcher.ts.surgery import chain, flag_discontinuity, rewrite, unchained
from stitcher.ts.timing import AvTiming, av_timing, bridge

__all__ = [
    "AAC_SAMPLES_PER_FRAME",
    "AvTiming",
    "CLOCK",
    "NULL_PID",
    "PACKET",
    "PAT_PID",
    "PTS_MODULO",
    "StreamInfo",
    "TsError",
    "TsInfo",
    "av_timing",
    "bridge",
    "chain",
    "flag_discontinuity",
    "rewrite",
    "scan",
    "unchained",
    "whole_aac_frames",
]
