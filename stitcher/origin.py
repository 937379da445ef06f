"""Reading an origin over HTTP: one GET with a timeout, parsed into the typed playlist model.

Used by the monitor (cues, the grid of a new break), the /cue API (a fresh grid) and the
stitcher's origin feed (the playlists it stitches). Failures are one exception family:
`OriginUnavailable` (HTTP error, connection refused, not a playlist; 502 at the stitcher) and
its subclass `OriginTimeout` (no answer in time; 504).

Side effects: HTTP GETs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin

import aiohttp

from stitcher.errors import RigError
from stitcher.playlist import MasterPlaylist, MediaPlaylist, PlaylistError, parse_playlist

if TYPE_CHECKING:
    from stitcher.catalog import Channel


class OriginUnavailable(RigError):
    """The origin could not be read this time (timeout, HTTP error, not a playlist);
    `upstream_status` is the HTTP status it answered, if it answered."""

    status = 502
    summary = "the origin cannot be read"

    def __init__(self, message: str, upstream_status: int | None = None):
        super().__init__(message)
        self.upstream_status = upstream_status


class OriginTimeout(OriginUnavailable):
    """The origin did not answer in time."""

    status = 504
    summary = "the origin did not answer in time"


async def fetch_bytes(session: aiohttp.ClientSession, url: str, timeout: float) -> bytes:
    """GET `url` from the origin; OriginUnavailable (with the status it answered) or
    OriginTimeout."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            if response.status != 200:
                raise OriginUnavailable(f"{url} answered HTTP {response.status}", response.status)
            return await response.read()
    except TimeoutError:
        raise OriginTimeout(f"{url} did not answer within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise OriginUnavailable(f"{url}: {exc.__class__.__name__} {exc}".rstrip()) from None


async def fetch_text(session: aiohttp.ClientSession, url: str, timeout: float) -> str:
    return (await fetch_bytes(session, url, timeout)).decode("utf-8", "replace")


def parse_origin(text: str, url: str) -> MediaPlaylist | MasterPlaylist:
    """Parse what an origin answered; garbage is an OriginUnavailable naming the URL."""
    try:
        return parse_playlist(text)
    except PlaylistError as exc:
        raise OriginUnavailable(f"{url}: {exc}") from None


async def origin_playlist(
    session: aiohttp.ClientSession, channel: Channel, timeout: float, media_url: str | None = None
) -> tuple[MediaPlaylist, str]:
    """A fresh look at the origin: (media playlist, its URL). The lowest variant is enough for cues
    and timing; pass the URL back in to skip the master next time. Raises OriginUnavailable."""
    if media_url is None:
        master = parse_origin(
            await fetch_text(session, channel.origin_url, timeout), channel.origin_url
        )
        if isinstance(master, MasterPlaylist):
            lowest = min(master.variants, key=lambda v: v.bandwidth)
            media_url = urljoin(channel.origin_url, lowest.uri)
        else:
            media_url = channel.origin_url
    playlist = parse_origin(await fetch_text(session, media_url, timeout), media_url)
    if not isinstance(playlist, MediaPlaylist):
        raise OriginUnavailable(f"{media_url} is not a media playlist")
    return playlist, media_url
