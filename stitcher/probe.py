"""Probe a live HLS origin for what ads must be conditioned to: ladder, segment duration, frame
rate, audio.

Side effects: HTTP GETs (probe only).
How and why: docs/stitcher.md, "`stitcher.probe`".
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlparse

import aiohttp

from stitcher.catalog import Channel, Rung
from stitcher.errors import RigError
from stitcher.origin import (
    PLAYLIST_LIMIT,
    SEGMENT_LIMIT,
    OriginUnavailable,
    fetch_bytes,
    on_site,
)
from stitcher.playlist import MasterPlaylist, MediaPlaylist, PlaylistError, parse_playlist
from stitcher.ts import CLOCK, TsError, av_timing, scan, whole_aac_frames

CUE_TAGS = {
    "EXT-X-CUE-OUT": "cue-out",
    "EXT-X-CUE-OUT-CONT": "cue-out",
    "EXT-OATCLS-SCTE35": "oatcls",
    "EXT-X-SCTE35": "scte35",
    "EXT-X-SPLICEPOINT-SCTE35": "splicepoint",
}


class ProbeError(RigError):
    """The origin cannot be used: unreachable, not live HLS, or missing what ads need."""


@dataclass(frozen=True)
class ProbeResult:
    master_url: str
    ladder: tuple[Rung, ...]
    segment_duration: float
    frame_rate: float
    audio_rate: int
    audio_channels: int
    cue_formats_seen: tuple[str, ...]
    window_seconds: float = 3600.0
    audio_offset: float = 0.0
    boundary_offsets: tuple[
        float, ...
    ] = ()  # s: where the sound switches against the picture, per boundary read

    def warnings(self) -> list[str]:
        """What a viewer of this origin may notice whatever the stitcher does (printed by
        `rig channels add`)."""
        note = in_place_warning(self.segment_duration, self.audio_rate, self.boundary_offsets)
        return [note] if note else []

    def channel(self, slug: str, **fields) -> Channel:
        return Channel(
            slug=slug,
            origin_url=self.master_url,
            ladder=self.ladder,
            segment_duration=self.segment_duration,
            audio_rate=self.audio_rate,
            audio_channels=self.audio_channels,
            window_seconds=self.window_seconds,
            audio_offset=self.audio_offset,
            **fields,
        )


async def _get(
    session: aiohttp.ClientSession, url: str, what: str, timeout: float, limit: int = PLAYLIST_LIMIT
) -> bytes:
    """`url`'s bytes, within the stitcher's own time and size limits (`fetch_bytes`)."""
    try:
        return await fetch_bytes(session, url, timeout, limit)
    except OriginUnavailable as exc:
        raise ProbeError(f"{what}: {exc} (it cannot be fetched)") from None


def _names(uris: list[str]) -> list[str]:
    """Short unique names for variants: the folder (`540p/index.m3u8`) or the file stem."""
    candidates = []
    for uri in uris:
        path = PurePosixPath(urlparse(uri).path)
        name = (
            path.parent.name
            if path.stem in ("index", "playlist", "prog_index", "chunklist") and path.parent.name
            else path.stem
        )
        candidates.append(
            "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower()).strip("-") or "v"
        )
    if len(set(candidates)) == len(candidates):
        return candidates
    return [f"v{i}" for i in range(len(uris))]


def ladder_from_master(master: MasterPlaylist) -> tuple[Rung, ...]:
    variants = sorted(master.variants, key=lambda v: v.bandwidth, reverse=True)
    rungs = []
    for name, variant in zip(_names([v.uri for v in variants]), variants):
        if variant.resolution is None:
            raise ProbeError(
                f"variant {variant.uri} has no RESOLUTION: ads cannot be conditioned to it"
            )
        width, height = variant.resolution
        frame_rate = variant.attributes.number("FRAME-RATE") or 0.0
        rungs.append(
            Rung(
                name,
                variant.bandwidth,
                width,
                height,
                variant.codecs or "",
                frame_rate,
                variant.uri,
            )
        )
    return tuple(rungs)


def cue_formats(playlist: MediaPlaylist) -> tuple[str, ...]:
    found = set()
    for segment in playlist.segments:
        for tag in segment.tags:
            if tag.name == "EXT-X-DATERANGE" and any(
                k.startswith("SCTE35") for k in tag.attributes().names()
            ):
                found.add("daterange")
            elif tag.name in CUE_TAGS:
                found.add(CUE_TAGS[tag.name])
    return tuple(sorted(found))


async def probe(
    url: str, session: aiohttp.ClientSession | None = None, timeout: float = 10.0
) -> ProbeResult:
    """Probe the live origin whose master playlist is at `url`. Raises ProbeError."""
    if session is None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as own:
            return await probe(url, own, timeout)
    try:
        master = parse_playlist(
            (await _get(session, url, "master playlist", timeout)).decode("utf-8", "replace")
        )
    except PlaylistError as exc:
        raise ProbeError(f"{url} is not an HLS playlist: {exc}") from None
    if not isinstance(master, MasterPlaylist):
        raise ProbeError(f"{url} is a media playlist; give the master (multivariant) playlist URL")
    ladder = ladder_from_master(master)
    for rung in ladder:
        if not on_site(urljoin(url, rung.uri), url):
            raise ProbeError(
                f"variant {rung.name} is at {urljoin(url, rung.uri)}, not on the server of {url}:"
                " the stitcher reads only its channels' origin servers"
            )
    top = ladder[0]
    media_url = urljoin(url, top.uri)
    try:
        media = parse_playlist(
            (await _get(session, media_url, "media playlist", timeout)).decode("utf-8", "replace")
        )
    except PlaylistError as exc:
        raise ProbeError(f"{media_url} is not a valid media playlist: {exc}") from None
    if not isinstance(media, MediaPlaylist) or not media.segments:
        raise ProbeError(f"{media_url} has no segments")
    if media.endlist or media.playlist_type:
        raise ProbeError(f"{media_url} is not live (it has EXT-X-ENDLIST or EXT-X-PLAYLIST-TYPE)")
    if any(t.name == "EXT-X-MAP" for s in media.segments for t in s.tags) or any(
        t.name == "EXT-X-MAP" for t in media.header_tags
    ):
        raise ProbeError(
            f"{media_url} uses fragmented MP4 segments; only MPEG-TS origins are supported"
        )
    durations = [round(s.duration, 3) for s in media.segments]
    segment_duration = (
        Counter(durations).most_common(1)[0][0]
        if len(set(durations)) < len(durations)
        else statistics.median(durations)
    )
    newest = media.segments[-1]
    run = _newest_run(media, PROBED_SEGMENTS)
    infos = []
    for segment in run:
        data = await _get(
            session, urljoin(media_url, segment.uri), "segment", timeout, SEGMENT_LIMIT
        )
        try:
            infos.append(scan(data))
        except TsError as exc:
            raise ProbeError(f"segment {segment.uri} is not MPEG-TS: {exc}") from None
    info = infos[-1]
    video, audio = info.stream("video"), info.stream("audio")
    if video is None:
        raise ProbeError(f"segment {newest.uri} has no video stream")
    if audio is None or not audio.sample_rate:
        raise ProbeError(f"segment {newest.uri} has no AAC audio stream")
    try:
        offsets = [av_timing(i).start_offset for i in infos[1:]] or [av_timing(info).start_offset]
    except TsError as exc:
        raise ProbeError(f"segments of {media_url}: {exc}") from None
    frame_rate = top.frame_rate or round(video.frames / newest.duration, 3)
    ladder = tuple(
        r if r.frame_rate else Rung(**{**r.__dict__, "frame_rate": frame_rate}) for r in ladder
    )
    window = max(round(media.duration, 3), 3 * float(segment_duration))
    return ProbeResult(
        url,
        ladder,
        float(segment_duration),
        frame_rate,
        audio.sample_rate,
        audio.channels or 2,
        cue_formats(media),
        window,
        audio_offset(offsets),
        tuple(round(o / CLOCK, 5) for o in offsets),
    )


# the newest segments read: their boundaries give the interleave (every phase of 2 s at 48 kHz)
PROBED_SEGMENTS = 8


def _newest_run(media: MediaPlaylist, count: int) -> list:
    """The newest `count` segments with no discontinuity between them (at least the newest one)."""
    run = [media.segments[-1]]
    for segment, after in zip(reversed(media.segments[:-1]), reversed(media.segments[1:])):
        if len(run) == count or after.discontinuity:
            break
        run.insert(0, segment)
    return run


def audio_offset(offsets: list[int]) -> float:
    """A channel's interleave (seconds) from the sound-minus-picture offsets (90 kHz ticks) seen at
    its segment boundaries: the middle of their range. The range is under one AAC frame for any
    one encoder (it depends only on where each AAC frame falls against the boundary), so an ad
    conditioned to the middle is within half of it of every boundary."""
    if not offsets:
        return 0.0
    return round((min(offsets) + max(offsets)) / 2 / CLOCK, 5)


HLSJS_IN_PLACE_TOLERANCE = 0.010  # s: see in_place_warning


def in_place_warning(
    segment_duration: float, audio_rate: int, offsets: tuple[float, ...] | list[float] = ()
) -> str | None:
    """The one limit of SGAI a stitcher cannot remove: hls.js 1.7.4, appending an interstitial in
    place (its default), moves on to the ad only if the content's buffered end is within 10 ms of
    where it expects the ad, and it expects it where the later of the two tracks ends. Where the
    sound of the content before a break ends more than 10 ms from its picture, playback stalls at
    the splice-in (once; with B-frames' 77 ms, asset errors and holes too). `offsets` (s) are the
    ones measured at the origin's boundaries, if any; without them, segments that are not whole AAC
    frames are warned of (their cut moves by up to a frame)."""
    worst = max((abs(o) for o in offsets), default=None)
    if worst is not None and worst <= HLSJS_IN_PLACE_TOLERANCE:
        return None
    if worst is None and whole_aac_frames(segment_duration, audio_rate):
        return None
    seen = (
        f"its sound switches up to {worst * 1000:.1f} ms from the picture at segment boundaries"
        if worst is not None
        else (
            f"{segment_duration:g} s segments are not whole AAC frames at {audio_rate} Hz, so the"
            " sound switches up to one frame from the picture"
        )
    )
    return (
        f"{seen}; hls.js 1.7.4 appending SGAI interstitials in place (its default) stalls at a"
        f" splice-in where that exceeds {HLSJS_IN_PLACE_TOLERANCE * 1000:g} ms. SSAI is not"
        " affected; segments of whole AAC frames and pictures (1.92 s at 25 fps and 48 kHz),"
        " encoded without B-frames, avoid it (docs/splices.md)"
    )
