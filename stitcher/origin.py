"""Reading an origin over HTTP: one GET with a timeout, parsed into the typed playlist model.

Used by the monitor (cues, the grid of a new break), the /cue API (a fresh grid) and the
stitcher's origin feed (the playlists it stitches). Failures are one exception family:
`OriginUnavailable` (HTTP error, connection refused, not a playlist; 502 at the stitcher) and
its subclass `OriginTimeout` (no answer in time; 504).

Side effects: HTTP GETs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

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


PLAYLIST_LIMIT = 4 * 1024 * 1024  # bytes a playlist may have: a live window or an ad is a few KB,
# hours of DVR window a few hundred
SEGMENT_LIMIT = 64 * 1024 * 1024  # bytes a media segment may have (tens of seconds of 4K)


def site(url: str) -> tuple[str, str]:
    """Scheme and host[:port] of `url`, as compared for "the same server"."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def on_site(url: str, base: str) -> bool:
    """Is `url` (absolute) served by the same server as `base`?"""
    return site(url) == site(base)


async def fetch_bytes(
    session: aiohttp.ClientSession, url: str, timeout: float, limit: int = PLAYLIST_LIMIT
) -> bytes:
    """GET `url` from the origin; OriginUnavailable (with the status it answered) or
    OriginTimeout. `timeout` bounds the whole exchange, `limit` the bytes read (an answer
    longer than that is refused, not read)."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            if response.status != 200:
                raise OriginUnavailable(f"{url} answered HTTP {response.status}", response.status)
            if (response.content_length or 0) > limit:
                raise OriginUnavailable(_too_long(url, limit))
            data = bytearray()
            async for chunk in response.content.iter_any():
                data += chunk
                if len(data) > limit:
                    raise OriginUnavailable(_too_long(url, limit))
            return bytes(data)
    except TimeoutError:
        raise OriginTimeout(f"{url} did not answer within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise OriginUnavailable(f"{url}: {exc.__class__.__name__} {exc}".rstrip()) from None


def _too_long(url: str, limit: int) -> str:
    return f"{url} answered more than {limit:,} bytes (the most the stitcher reads of one answer)"


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
