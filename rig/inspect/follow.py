"""Follow a live HLS stream and measure each new splice as it appears: the polling shell.

`follow` reads the master (then one variant, `pick_variant`) or media playlist, reloads it every
half target duration on the `Clock` it is given (`clock.sleep`, so tests run it on a fake clock)
until EXT-X-ENDLIST, fetches both segments of each new boundary with aiohttp and measures them.
Side effects: HTTP requests to the stream's servers.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import urljoin

import aiohttp

from rig.inspect.boundaries import BoundaryTracker, SpliceReport, Summary, measure_scanned
from rig.playhead import choose_variant
from stitcher.clock import Clock
from stitcher.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    parse_media_playlist,
    parse_playlist,
)
from stitcher.ts import TsError, TsInfo, scan

REQUEST_TIMEOUT = 10.0  # seconds, per request
# scanned segments remembered (a segment is the "after" of one boundary and the "before" of
# the next)
SCANNED_KEPT = 32


class InspectError(Exception):
    """The stream cannot be inspected at all (unreachable, not a playlist, no such variant):
    exit 2."""


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _get(session: aiohttp.ClientSession, url: str) -> bytes:
    """The body of a 200 answer; InspectError for anything else."""
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        ) as response:
            body = await response.read()
            if response.status != 200:
                raise InspectError(f"GET {url} returned HTTP {response.status}")
            return body
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise InspectError(f"GET {url} failed: {_describe(exc)}") from exc


async def _get_playlist(session: aiohttp.ClientSession, url: str) -> MediaPlaylist | MasterPlaylist:
    body = await _get(session, url)
    try:
        return parse_playlist(body.decode("utf-8"))
    except (UnicodeError, PlaylistError) as exc:
        raise InspectError(f"{url} is not an HLS playlist: {exc}") from exc


def pick_variant(master: MasterPlaylist, wanted: str | None) -> str:
    """The URI of the variant named `wanted` (a name such as hi, a RESOLUTION or BANDWIDTH, lowest
    or highest) or at index `wanted` (0 is the first); the first variant when None."""
    variants = master.variants
    if not variants:
        raise InspectError("the master playlist has no variants")
    if wanted is None:
        return variants[0].uri
    if wanted.isdigit():
        if int(wanted) >= len(variants):
            raise InspectError(f"no variant at index {wanted} (the master has {len(variants)})")
        return variants[int(wanted)].uri
    try:
        return choose_variant(master, wanted, random.Random(0)).uri
    except LookupError as exc:
        raise InspectError(str(exc)) from exc


async def follow(
    url: str,
    *,
    clock: Clock,
    session: aiohttp.ClientSession,
    seconds: float = 60.0,
    splices: int | None = None,
    variant: str | None = None,
    every: bool = False,
    stop: asyncio.Event | None = None,
    on_report: Callable[[SpliceReport], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Summary:
    """Follow the live stream at `url` (a media playlist, or a master: then `variant`, see
    `pick_variant`) for `seconds` of `clock` time, or until `splices` boundaries were reported or
    `stop` is set, reloading every half target duration (until EXT-X-ENDLIST); each new boundary
    is measured and given to `on_report`. Raises InspectError when the stream cannot be read at
    the start; later reload failures go to `on_warning` and the run goes on."""
    warn = on_warning or (lambda text: None)
    playlist = await _get_playlist(session, url)
    media_url = url
    if isinstance(playlist, MasterPlaylist):
        media_url = urljoin(url, pick_variant(playlist, variant))
        playlist = await _get_playlist(session, media_url)
        if not isinstance(playlist, MediaPlaylist):
            raise InspectError(
                f"{media_url} is a master playlist where a media playlist was expected"
            )
    elif variant is not None:
        warn(f"{url} is a media playlist: --variant {variant} ignored")
    summary = Summary(url, media_url, clock.now())
    tracker = BoundaryTracker(every)
    scanned: OrderedDict[str, TsInfo | str] = OrderedDict()

    async def segment(uri: str) -> TsInfo | str:
        if uri not in scanned:
            try:
                data = await _get(session, uri)
            except InspectError as exc:
                scanned[uri] = str(exc)
            else:
                try:
                    scanned[uri] = scan(data)
                # IndexError: a packet cut short inside a header
                except (TsError, IndexError) as exc:
                    scanned[uri] = f"{uri} is not a usable transport stream: {exc}"
            while len(scanned) > SCANNED_KEPT:
                scanned.popitem(last=False)
        return scanned[uri]

    end = summary.started + seconds
    next_load = summary.started
    try:
        while True:
            summary.reloads += 1
            for boundary in tracker.update(playlist, media_url):
                before, after = (
                    await segment(boundary.before_uri),
                    await segment(boundary.after_uri),
                )
                if isinstance(before, str) or isinstance(after, str):
                    report = SpliceReport(
                        boundary, error=before if isinstance(before, str) else after
                    )
                else:
                    report = measure_scanned(before, after, boundary.discontinuity, boundary)
                summary.reports.append(report)
                if on_report is not None:
                    on_report(report)
                if splices is not None and len(summary.reports) >= splices:
                    return summary
            for first, last in tracker.missed[len(summary.missed) :]:
                warn(
                    f"boundaries of MSN {first}..{last} never visible"
                    " (the window moved on between two reloads)"
                )
            summary.missed = list(tracker.missed)
            if playlist.endlist:  # the stream is over: nothing new will come
                return summary
            next_load = max(next_load + playlist.target_duration / 2, clock.now())
            if next_load >= end or not await clock.sleep(next_load - clock.now(), stop):
                return summary
            try:
                playlist = parse_media_playlist((await _get(session, media_url)).decode("utf-8"))
            except (InspectError, UnicodeError, PlaylistError) as exc:
                summary.reload_errors += 1
                warn(f"reload failed: {exc}")
    finally:
        summary.ended = clock.now()
