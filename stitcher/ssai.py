"""SSAI: the pure core that stitches ads into one variant's live media playlist.

`stitch(origin, ...) -> MediaPlaylist` is a function of (origin playlist, break records, one
ledger read, channel segment duration, variant bandwidth, resolved ad/slate playlists): no I/O,
no clock, nothing per viewer (T5). For each origin segment, the rule every replica applies
(`stitcher.breaks.slot_at` / `returns_at`) says whether it is a slot of a break and which pod
item fills it:
- a slot keeps the origin's media sequence number, EXTINF and PROGRAM-DATE-TIME (the break keeps
  the origin's timeline, T3, also when the origin's segments are not exactly the nominal
  duration: the half-segment tolerance of the rule absorbs the drift) and takes the URI of the
  matching segment of the item's conditioned playlist for this variant (filler slate past the
  pod's end); a DISCONTINUITY marks each splice;
- content keeps its segment (URI made absolute), and a DISCONTINUITY marks the return; the
  segment there is the stitcher's copy (`resume_url`) whose first packets carry the
  discontinuity_indicator, since the origin's counters and clock do not run on from the ad's;
- the origin's own tags stay where they are (their positions are the origin's, stable, R1);
- DISCONTINUITY-SEQUENCE = the origin's + the discontinuities the stitcher added before the
  window (`Ledger.added_before`), so every segment keeps its number across reloads (T1).

Origin discontinuities. `Segment.discontinuity` is a count of EXT-X-DISCONTINUITY tags, and a
segment's discontinuity sequence number counts tags, not segments (RFC 8216 §6.2.2, R7). The
origin's DISCONTINUITY-SEQUENCE counts the origin's tags and the ledger counts the stitcher's, so
every segment carries the origin's tags *plus* the stitcher's: a splice or a return that falls on
an origin discontinuity renders two tags in a row (hls.js increments its `cc` per tag, ffmpeg's
demuxer ignores the tag), a slot that is not a splice keeps the origin's tag, and a return of one
break that is also the first slot of the next renders both of the stitcher's. Rendering one tag
there would make the segment numbers jump by one when the pair leaves the window (T1).
Every segment that carries a DISCONTINUITY carries a PROGRAM-DATE-TIME (R14, P1).

Ad media that cannot be read. The tags and the numbers depend on the break records and the ledger
alone, never on which conditioned playlists the shell could fetch. A pod item whose playlist the
shell does not have is given a stand-in (`stand_ins`, keyed by (event id, playlist URL)): the
slate's playlist, or "" for the origin's own segment; either way its slots keep their tags and
numbers. The shell keeps a stand-in for as long as the break can be in a window (docs/faults.md), so
a slot never changes its URI once served by that replica.

Side effects: none.
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
) -> MediaPlaylist:
    """The SSAI media playlist for one variant (see the module docstring). `stand_ins` maps
    (event id, conditioned playlist URL) to the playlist that fills those slots instead ("" = the
    origin's segment); the DISCONTINUITY tags stay where the records put them. With `resume_url`,
    the content segment a break returns to is served from `<resume_url>?src=<its URL>`: the
    stitcher's copy of it whose first packets flag the discontinuity (`stitcher.streams.resume`)."""
    stand_ins = stand_ins or {}
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
        tags = int(segment.discontinuity) + back
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
