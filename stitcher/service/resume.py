"""The content segment a break returns to: the origin's own bytes, each PID's first packet
flagged as a discontinuity (only segments of the channel's own origin are served).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin

from stitcher.errors import NotFound
from stitcher.origin import SEGMENT_LIMIT, OriginUnavailable, fetch_bytes, on_site
from stitcher.ts import TsError, flag_discontinuity

if TYPE_CHECKING:
    from stitcher.service.playlists import PlaylistService

RESUME_NAME = "resume.ts"  # `/ssai/<channel>/<variant>/resume.ts?src=<origin segment URL>`


async def resume_segment(service: PlaylistService, slug: str, src: str) -> bytes:
    """The origin's segment at `src`, a return from a break, with each PID's first packet flagged
    as a discontinuity (the ad before it ran its own counters and clock). Only segments of the
    channel's own origin are served (NotFound otherwise); the origin's errors are raised as such,
    bytes that are not MPEG-TS are an OriginUnavailable."""
    channel = await service.channel(slug)
    if not on_site(urljoin(channel.origin_url, src), channel.origin_url) or src != urljoin(
        channel.origin_url, src
    ):
        raise NotFound(f"{src!r} is not a segment of channel {slug}'s origin")
    try:
        data = await fetch_bytes(service.origin.session, src, service.origin.timeout, SEGMENT_LIMIT)
    except OriginUnavailable as exc:
        if exc.upstream_status == 404:
            raise NotFound(f"segment {src} is not (or no longer) at the origin") from None
        raise
    try:
        return flag_discontinuity(data)
    except TsError as exc:
        raise OriginUnavailable(f"segment {src} is not MPEG-TS: {exc}") from None
