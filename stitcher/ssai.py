"""SSAI: the pure core that stitches ads into one variant's live media playlist.

Side effects: none.
How and why: docs/stitcher.md, "`stitcher.ssai`".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote, urljoin

from stitcher.breaks import BreakRecord, Ledger, returns_at, slot_at
from stitcher.errors import RigError
from stitcher.playlist import MediaPlaylist, Segment


class SsaiError(RigError):
    """An origin playlist that cannot be stitched (no PROGRAM-DATE-TIME, a conditioned playlist
    missing)."""

    status = 502
    summary = "the origin playlist cannot be stitched"


@dataclass(frozen=True)
class VodMedia:
    """A conditioned ad or slate playlist for one variant, fetched by the shell (URIs absolute)."""

    url: str
    segments: tuple[Segment, ...]


def pdts(origin: MediaPlaylist) -> list[float]:
    """When each origin segment starts (`MediaPlaylist.segment_times`); SsaiError if undated."""
    times = origin.segment_times()
    if times is None:
        raise SsaiError("the origin playlist has no PROGRAM-DATE-TIME: breaks cannot be placed")
    return times


def variant_url(record: BreakRecord, item: int, bandwidth: int, slate_url: str) -> str:
    items = record.pod.items
    if item >= len(items):
        return slate_url  # filler slate past the pod's end
    return items[item].playlist_for(bandwidth)


def stitch(
    origin: MediaPlaylist,
    origin_url: str,
    records: Sequence[BreakRecord],
    ledger: Ledger,
    segment_duration: float,
    bandwidth: int,
    media: Mapping[str, VodMedia],
    slate_url: str,
    stand_ins: Mapping[tuple[str, str], str] | None = None,
    resume_url: str | None = None,
    extra: Mapping[float, int] | None = None,
) -> MediaPlaylist:
    """The SSAI media playlist for one variant (see the module docstring). `stand_ins` maps
    (event id, conditioned playlist URL) to the playlist that fills those slots instead ("" = the
    origin's segment); the DISCONTINUITY tags stay where the records put them. With `resume_url`,
    the content segment a break returns to is served from `<resume_url>?src=<its URL>`: the
    stitcher's copy of it whose first packets flag the discontinuity (`stitcher.streams.resume`).
    `extra` maps the start of a content segment to discontinuity tags added before it (a replica
    making up for discontinuities it never rendered, `stitcher.served`); the ledger counts them."""
    stand_ins = stand_ins or {}
    extra = extra or {}
    if not origin.segments:
        return origin
    tolerance = segment_duration / 2
    by_id = {r.event_id: r for r in records}
    times = pdts(origin)
    out: list[Segment] = []
    for segment, pdt in zip(origin.segments, times):
        stamp = segment.program_date_time or datetime.fromtimestamp(pdt, tz=UTC)
        back = int(returns_at(records, pdt, tolerance))  # content (or the next break) resumes here
        slot = slot_at(records, pdt, tolerance)
        if slot is not None:
            url = variant_url(by_id[slot.event_id], slot.item, bandwidth, slate_url)
            url = stand_ins.get((slot.event_id, url), url)
            tags = (
                int(segment.discontinuity) + int(slot.discontinuity) + back
            )  # origin's + stitcher's (R7)
            if not url:  # no conditioned media at all: the origin's segment, the tags unchanged
                out.append(
                    replace(
                        segment,
                        uri=urljoin(origin_url, segment.uri),
                        discontinuity=tags,
                        program_date_time=stamp,
                    )
                )
                continue
            vod = media.get(url)
            if vod is None or not vod.segments:
                raise SsaiError(f"conditioned playlist {url} is not available")
            index = round(slot.offset / segment_duration) % len(vod.segments)
            out.append(
                replace(
                    segment,
                    uri=vod.segments[index].uri,
                    discontinuity=tags,
                    program_date_time=stamp,
                )
            )
            continue
        tags = int(segment.discontinuity) + back + _extra_at(extra, pdt, tolerance)
        uri = urljoin(origin_url, segment.uri)
        out.append(
            replace(
                segment,
                uri=f"{resume_url}?src={quote(uri, safe='')}" if back and resume_url else uri,
                discontinuity=tags,
                program_date_time=stamp if (tags or segment.program_date_time) else None,
            )
        )
    added = ledger.added_before(times[0], tolerance)
    return replace(
        origin, segments=tuple(out), discontinuity_sequence=origin.discontinuity_sequence + added
    )


def _extra_at(extra: Mapping[float, int], pdt: float, tolerance: float) -> int:
    return sum(n for t, n in extra.items() if abs(t - pdt) < tolerance)
