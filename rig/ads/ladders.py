"""Which ladders an ad is conditioned for: one per distinct ladder key, twins sharing one copy.

Pure. Channels in the catalog carry measured bandwidths (and so their own ladder key); ladders
that differ only by a hair of bandwidth are `interchangeable` and share one conditioned copy.
"""

from __future__ import annotations

from collections.abc import Iterable

from origin_emulator.config import MediaSettings
from stitcher.catalog import Channel, Conditioning, Rung


def distinct_conditionings(channels: Iterable[Channel]) -> list[Conditioning]:
    """One `Conditioning` per distinct ladder key among the channels, in channel order."""
    found: dict[str, Conditioning] = {}
    for channel in channels:
        found.setdefault(channel.conditioning.key, channel.conditioning)
    return list(found.values())


def conditioning_for_media(media: MediaSettings, bandwidth_factor: float = 1.15) -> Conditioning:
    """The ladder the rig's own settings describe, with BANDWIDTH estimated from the bit rates.

    For tools and tests without a catalog; channels in the catalog carry measured bandwidths
    (and so their own ladder key).
    """
    ladder = tuple(
        Rung(
            r.name,
            round((r.video_kbps + r.audio_kbps) * 1000 * bandwidth_factor),
            r.width,
            r.height,
            frame_rate=float(media.fps),
        )
        for r in media.ladder
    )
    return Conditioning(ladder, media.segment_seconds, float(media.fps), media.audio_rate, 2)


def interchangeable(a: Conditioning, b: Conditioning, tolerance: float = 0.1) -> bool:
    """Two ladders one conditioned copy serves: same rungs (names, sizes), timing and audio, and
    bandwidths within `tolerance` of each other (they are measured peaks, never exactly equal)."""
    if (a.segment_duration, a.frame_rate, a.audio_rate, a.audio_channels) != (
        b.segment_duration,
        b.frame_rate,
        b.audio_rate,
        b.audio_channels,
    ):
        return False
    if [(r.name, r.width, r.height) for r in a.ladder] != [
        (r.name, r.width, r.height) for r in b.ladder
    ]:
        return False
    return all(
        abs(x.bandwidth - y.bandwidth) <= tolerance * max(x.bandwidth, y.bandwidth)
        for x, y in zip(a.ladder, b.ladder)
    )
